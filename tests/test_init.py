"""Tests for `promptguard init` in real temporary git repositories."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from promptguard.cli import main
from promptguard.config import load_config
from promptguard.init import PRECOMMIT_FILES_PATTERN, find_included_templates, find_prompt_files, render_config


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    files = {
        "prompts/summarize.md": "Summarize the text.\n",
        "app/prompts/classify.yaml": "system: Classify.\n",
        "templates/reply.j2": "Hello {{ name }}\n",
        "agent.prompty": "---\nname: agent\n---\nsystem:\nHi\n",
        "README.md": "# project\n",
        "src/main.py": "print('hi')\n",
        "build/prompts/generated.md": "ignored by git\n",
    }
    write_files(tmp_path, files)
    (tmp_path / ".gitignore").write_text("build/\n", encoding="utf-8")
    return tmp_path


def test_init_writes_three_files(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = run_cli(["init", "--repo", str(repo)])

    assert exit_code == 0
    out = capsys.readouterr().out
    assert "found 4 prompt file(s)" in out
    assert "wrote promptguard.toml" in out
    assert "wrote .github/workflows/promptguard.yml" in out
    assert "wrote .pre-commit-config.yaml" in out
    assert (repo / "promptguard.toml").is_file()


def test_config_lists_found_prompts(repo: Path) -> None:
    run_cli(["init", "--repo", str(repo)])

    text = (repo / "promptguard.toml").read_text(encoding="utf-8")
    for path in [
        "agent.prompty",
        "app/prompts/classify.yaml",
        "prompts/summarize.md",
        "templates/reply.j2",
    ]:
        assert f"#   {path}\n" in text
    assert "generated.md" not in text


def test_written_config_is_valid(repo: Path) -> None:
    run_cli(["init", "--repo", str(repo)])

    config = load_config(repo)

    assert config.source == "promptguard.toml"
    assert config.model == "gpt-4o-mini"
    assert config.budgets["max_monthly_cost_increase"].fail == 1000


def test_config_without_prompts_is_valid(tmp_path: Path) -> None:
    (tmp_path / "promptguard.toml").write_text(render_config([]), encoding="utf-8")

    config = load_config(tmp_path)

    assert "adjust `include`" in (tmp_path / "promptguard.toml").read_text(encoding="utf-8")
    assert config.requests_per_month == 1_000_000


def test_workflow_is_valid_yaml(repo: Path) -> None:
    run_cli(["init", "--repo", str(repo)])

    workflow = yaml.safe_load((repo / ".github/workflows/promptguard.yml").read_text(encoding="utf-8"))

    assert workflow["permissions"]["pull-requests"] == "write"
    steps = workflow["jobs"]["promptguard"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    action = next(step for step in steps if "promptguard@" in step.get("uses", ""))
    assert action["with"]["fail-on"] == "fail"
    # Nothing from the event reaches a shell: the action takes its inputs through `with:`.
    assert not any("${{" in step.get("run", "") for step in steps)


def test_second_run_overwrites_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(["init", "--repo", str(repo)])
    (repo / "promptguard.toml").write_text("# edited by hand\n", encoding="utf-8")
    capsys.readouterr()

    exit_code = run_cli(["init", "--repo", str(repo)])

    assert exit_code == 0
    out = capsys.readouterr().out
    assert "wrote" not in out
    assert "skipped promptguard.toml: it already exists" in out
    assert (repo / "promptguard.toml").read_text(encoding="utf-8") == "# edited by hand\n"


def test_existing_precommit_config_kept(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".pre-commit-config.yaml").write_text("repos: []\n", encoding="utf-8")

    run_cli(["init", "--repo", str(repo)])

    assert (repo / ".pre-commit-config.yaml").read_text(encoding="utf-8") == "repos: []\n"
    out = capsys.readouterr().out
    assert "skipped .pre-commit-config.yaml" in out
    assert "Add this hook to .pre-commit-config.yaml:" in out
    assert "entry: promptguard check --staged --changed-only" in out


def test_precommit_snippet_is_valid_yaml(repo: Path) -> None:
    run_cli(["init", "--repo", str(repo)])

    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text(encoding="utf-8"))

    [hook] = config["repos"][0]["hooks"]
    assert hook["id"] == "promptguard"
    assert hook["files"] == PRECOMMIT_FILES_PATTERN


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        ("promptguard.toml", True),
        ("pyproject.toml", True),
        ("sub/pyproject.toml", True),
        ("a/b.prompty", True),
        ("x.jinja2", True),
        ("prompts/a.md", True),
        ("app/fixtures/run.jsonl", True),
        ("schemas/out.json", True),
        ("src/main.py", False),
        ("README.md", False),
        ("myprompts/a.md", False),
    ],
)
def test_precommit_files_pattern(path: str, matches: bool) -> None:
    assert (re.search(PRECOMMIT_FILES_PATTERN, path) is not None) is matches


def test_find_prompts_outside_git(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts/a.txt").write_text("x", encoding="utf-8")
    (tmp_path / "node_modules/pkg/prompts").mkdir(parents=True)
    (tmp_path / "node_modules/pkg/prompts/b.md").write_text("x", encoding="utf-8")

    from promptguard.init import list_repository_files

    assert find_prompt_files(list_repository_files(tmp_path)) == ["prompts/a.txt"]


def test_included_templates_excluded(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    files = {
        "prompts/reply.j2": "{% include 'partials/header.j2' %}\nAnswer {{ ticket }}\n",
        "prompts/partials/header.j2": "You are a support agent.\n",
        "templates/page.j2": '{%- extends "templates/base.j2" %}\n',
        "templates/base.j2": "Base layout.\n",
        "templates/card.j2": "{% from 'missing.j2' import card %}\n",
    }
    write_files(tmp_path, files)

    prompts = find_prompt_files(files)
    included = find_included_templates(tmp_path, prompts)
    assert included == ["prompts/partials/header.j2", "templates/base.j2"]

    assert run_cli(["init", "--repo", str(tmp_path)]) == 0
    config = load_config(tmp_path, None, {})
    assert config.exclude == ("prompts/partials/header.j2", "templates/base.j2")
