"""Each bad input gets exit 2 and one line naming the value, the place and the fix; no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepo

CONFIG = 'model = "gpt-4o"\nprice_date = "2026-12-01"\n\n[[prompts]]\npath = "prompts/*"\n'


def assert_clean_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def committed(repo: GitRepo) -> GitRepo:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", "A prompt.\n")
    repo.commit("base")
    return repo


def test_config_not_toml(committed: GitRepo, run_cli: Any) -> None:
    committed.write("promptguard.toml", 'model = "gpt-4o"\nrequests_per_month = = 5\n')
    result = run_cli(["check", "--base", "HEAD"], committed.root)
    assert_clean_error(result, "promptguard.toml:2", "invalid TOML", "fix the TOML syntax")


def test_config_wrong_type(committed: GitRepo, run_cli: Any) -> None:
    committed.write("promptguard.toml", CONFIG + 'requests_per_month = "lots"\n')
    result = run_cli(["check", "--base", "HEAD"], committed.root)
    assert_clean_error(result, "promptguard.toml:6", '"lots"', "requests_per_month", "expected integer")


def test_config_unknown_key_suggests(committed: GitRepo, run_cli: Any) -> None:
    committed.write("promptguard.toml", CONFIG + "requests_per_mnth = 5\n")
    result = run_cli(["check", "--base", "HEAD"], committed.root)
    assert_clean_error(result, "promptguard.toml:6", "'requests_per_mnth'", "did you mean 'requests_per_month'")


def test_config_unknown_budget_suggests(committed: GitRepo, run_cli: Any) -> None:
    committed.write("promptguard.toml", CONFIG + "[budgets]\nmax_input_token = { fail = 5 }\n")
    result = run_cli(["check", "--base", "HEAD"], committed.root)
    assert_clean_error(result, "promptguard.toml:7", "'max_input_token'", "did you mean 'max_input_tokens'")


def test_pyproject_table_is_read(committed: GitRepo, run_cli: Any) -> None:
    (committed.root / "promptguard.toml").unlink()
    committed.write("pyproject.toml", '[project]\nname = "x"\n\n[tool.promptguard]\nmodle = "gpt-4o"\n')
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "pyproject.toml:5", "'modle'", "did you mean 'model'")


def test_glob_matching_nothing_warns_then_strict_fails(committed: GitRepo, run_cli: Any) -> None:
    committed.write("promptguard.toml", CONFIG + '\n[[prompts]]\npath = "missing/*.j2"\n')
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert result.exit_code == 0
    assert "'missing/*.j2' matches no file" in result.stdout
    strict = run_cli(["check", "--base", "HEAD", "--worktree", "--strict"], committed.root)
    assert_clean_error(strict, "'missing/*.j2' matches no file")


def test_template_syntax_error_has_line(committed: GitRepo, run_cli: Any) -> None:
    committed.write("prompts/t.j2", "line one\nline two\n{% for x in %}\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "prompts/t.j2:3", "template syntax error")


def test_undefined_variable_named(committed: GitRepo, run_cli: Any) -> None:
    committed.write("prompts/t.j2", "Hello {{ customer_name }}\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "prompts/t.j2", "undefined variable 'customer_name'", "variables")


def test_undefined_variable_line_and_pyproject(repo: GitRepo, run_cli: Any) -> None:
    settings = 'model = "gpt-4o"\nprice_date = "2026-12-01"\ninclude = ["prompts/*"]\n'
    repo.write("pyproject.toml", '[project]\nname = "app"\n\n[tool.promptguard]\n' + settings)
    repo.write("prompts/t.j2", "Intro.\n")
    repo.commit("base")
    repo.write("prompts/t.j2", "Intro.\nHello {{ customer_name }}\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], repo.root)
    assert_clean_error(
        result, "prompts/t.j2:2: undefined variable 'customer_name'", "[tool.promptguard] of pyproject.toml"
    )


def test_prompty_error_line_counts_front_matter(committed: GitRepo, run_cli: Any) -> None:
    # Line 5 of the file is line 3 of the body that follows the front matter.
    committed.write("prompts/p.prompty", "---\nname: greeting\n---\nsystem:\nHello {{ who }}\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "prompts/p.prompty:5: undefined variable 'who'", "promptguard.toml")


def test_missing_macro_not_called_variable(committed: GitRepo, run_cli: Any) -> None:
    committed.write("prompts/macros.j2", "{% macro header() %}Hello{% endmacro %}\n")
    committed.write("prompts/t.j2", "{% import 'macros.j2' as m %}{{ m.footer() }}\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "prompts/t.j2", "has no attribute 'footer'", "macro names")
    assert "undefined variable" not in result.stderr


def test_invalid_utf8(committed: GitRepo, run_cli: Any) -> None:
    committed.write("prompts/latin1.md", b"first line\ncaf\xe9\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "prompts/latin1.md:2", "invalid UTF-8", "save the prompt as UTF-8")


def test_binary_file(committed: GitRepo, run_cli: Any) -> None:
    committed.write("prompts/image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "prompts/image.png", "NUL bytes", "exclude it")


def test_unknown_model_suggests(committed: GitRepo, run_cli: Any) -> None:
    committed.write("promptguard.toml", CONFIG.replace("gpt-4o", "gpt-4o-mni"))
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "unknown model 'gpt-4o-mni'", "gpt-4o-mini", "[pricing.")


def test_unknown_ref(committed: GitRepo, run_cli: Any) -> None:
    result = run_cli(["check", "--base", "no-such-branch"], committed.root)
    assert_clean_error(result, "unknown revision 'no-such-branch'", "git fetch")


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/pwned", "-c core.sshCommand=x", "-x"])
def test_ref_starting_with_dash(committed: GitRepo, run_cli: Any, ref: str) -> None:
    result = run_cli(["check", f"--base={ref}"], committed.root)
    assert_clean_error(result, "must not start with '-'")
    assert not Path("/tmp/pwned").exists()


def test_config_outside_repository(committed: GitRepo, run_cli: Any, tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text(CONFIG)
    result = run_cli(["check", "--base", "HEAD", "--config", str(outside)], committed.root)
    assert_clean_error(result, "outside the repository")
    relative = run_cli(["check", "--base", "HEAD", "--config", "../outside.toml"], committed.root)
    assert_clean_error(relative, "outside the repository")


def test_missing_config_file(committed: GitRepo, run_cli: Any) -> None:
    result = run_cli(["check", "--base", "HEAD", "--config", "nope.toml"], committed.root)
    assert_clean_error(result, "config file 'nope.toml' not found")


def test_not_a_repository(tmp_path: Path, run_cli: Any) -> None:
    result = run_cli(["check"], tmp_path)
    assert_clean_error(result, "not inside a git repository", "git init")


def test_repository_without_commits(repo: GitRepo, run_cli: Any) -> None:
    repo.write("prompts/a.md", "x\n")
    result = run_cli(["check"], repo.root)
    assert_clean_error(result, "no commits yet")


def test_shallow_clone_names_the_fix(committed: GitRepo, run_cli: Any, tmp_path: Path) -> None:
    for index in range(3):
        committed.write("prompts/a.md", f"version {index}\n")
        committed.commit(f"change {index}")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "--quiet", "--depth=1", f"file://{committed.root}", str(clone)], check=True)
    result = run_cli(["check", "--base", "HEAD~2"], clone)
    assert_clean_error(result, "shallow", "fetch-depth: 0", "git fetch --deepen")


def test_orphan_branch_without_merge_base(committed: GitRepo, run_cli: Any) -> None:
    committed.git("checkout", "--quiet", "--orphan", "other")
    committed.commit("orphan root")
    result = run_cli(["check"], committed.root)
    assert_clean_error(result, "no common ancestor", "--base")


def test_output_directory_missing(committed: GitRepo, run_cli: Any) -> None:
    result = run_cli(["check", "--base", "HEAD", "--output", "no/such/dir/report.json"], committed.root)
    assert_clean_error(result, "no/such/dir/report.json", "does not exist")


def test_unexpected_crash_writes_log(committed: GitRepo, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import promptguard.check

    def explode(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(promptguard.check, "run_check", explode)
    result = run_cli(["check", "--base", "HEAD"], committed.root)
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr
    log_path = result.stderr.split("details in ")[1].split(",")[0]
    log = Path(log_path).read_text()
    assert "ZeroDivisionError: simulated bug" in log
    assert "tiktoken" in log


def test_failure_rate_budget_as_percent(committed: GitRepo, run_cli: Any) -> None:
    committed.write("promptguard.toml", CONFIG + "\n[budgets]\nmax_failure_rate = { warn = 5, fail = 10 }\n")
    result = run_cli(["check", "--base", "HEAD"], committed.root)
    assert_clean_error(result, "promptguard.toml:8", "max_failure_rate", "fraction of attempts", "write 0.05 for 5 %")


def test_validated_config_remembered_until_changed(committed: GitRepo, run_cli: Any, tmp_path: Path) -> None:
    cache = Path(os.environ["PROMPTGUARD_CACHE_DIR"]) / "validated-configs"
    assert run_cli(["check", "--base", "HEAD"], committed.root).exit_code == 0
    assert len(list(cache.iterdir())) == 1
    assert run_cli(["check", "--base", "HEAD"], committed.root).exit_code == 0
    assert len(list(cache.iterdir())) == 1

    committed.write("promptguard.toml", CONFIG + "requests_per_mnth = 5\n")
    result = run_cli(["check", "--base", "HEAD"], committed.root)
    assert_clean_error(result, "did you mean 'requests_per_month'")
