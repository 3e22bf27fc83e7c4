"""Unusual git states: history rewrites of a prompt, merges, detached HEAD, worktrees, submodules
and the environment git sets for hooks. Each gives figures equal to tiktoken's own count.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, GitRepo
from tests.test_hardening_inputs import CONFIG, committed, json_report, prompt_entry

__all__ = ["committed"]


def tokens(reference_encoding: Any, text: str) -> int:
    """Input tokens of a one-message prompt: tiktoken's count of the text plus 6 for chat framing."""
    return len(reference_encoding("o200k_base").encode(text)) + 6


def check_json(run_cli: Any, root: Path, *args: str) -> dict[str, Any]:
    return json_report(run_cli(["check", "--format", "json", *args], root))


def test_deleted_then_readded(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    base = committed.git("rev-parse", "HEAD").strip()
    (committed.root / "prompts/a.md").unlink()
    committed.commit("delete")
    committed.write("prompts/a.md", "Back again, with new words.\n")
    committed.commit("re-add")
    entry = prompt_entry(check_json(run_cli, committed.root, "--base", base), "prompts/a.md")
    assert entry["change"] == "modified"
    assert entry["base"]["input_tokens"] == tokens(reference_encoding, "A prompt.\n")
    assert entry["head"]["input_tokens"] == tokens(reference_encoding, "Back again, with new words.\n")


def test_rename_with_edits(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    long_text = "".join(f"Rule {index}: answer politely and briefly.\n" for index in range(30))
    committed.write("prompts/a.md", long_text)
    committed.commit("long prompt")
    (committed.root / "prompts/a.md").unlink()
    committed.write("prompts/renamed.md", long_text + "One more rule.\n")
    committed.commit("rename and edit")
    document = check_json(run_cli, committed.root, "--base", "HEAD~1")
    entry = prompt_entry(document, "prompts/renamed.md")
    assert entry["change"] == "renamed"
    assert entry["previous_path"] == "prompts/a.md"
    assert entry["base"]["input_tokens"] == tokens(reference_encoding, long_text)
    assert entry["head"]["input_tokens"] == tokens(reference_encoding, long_text + "One more rule.\n")
    assert [prompt["path"] for prompt in document["prompts"]] == ["prompts/renamed.md"]


def test_merge_commit_as_base(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    committed.git("checkout", "--quiet", "-b", "side")
    committed.write("prompts/side.md", "From the side branch.\n")
    committed.commit("side")
    committed.git("checkout", "--quiet", "main")
    committed.write("prompts/main.md", "From main.\n")
    committed.commit("main")
    committed.git("merge", "--quiet", "--no-ff", "-m", "merge side", "side")
    committed.write("prompts/side.md", "From the side branch, edited after the merge.\n")
    committed.commit("after merge")
    document = check_json(run_cli, committed.root, "--base", "HEAD~1")
    entry = prompt_entry(document, "prompts/side.md")
    assert entry["change"] == "modified"
    assert entry["head"]["input_tokens"] == tokens(
        reference_encoding, "From the side branch, edited after the merge.\n"
    )
    assert prompt_entry(document, "prompts/main.md")["change"] == "unchanged"


def test_detached_head_default_base(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    committed.git("checkout", "--quiet", "-b", "feature")
    committed.write("prompts/a.md", "Detached head text.\n")
    head = committed.commit("feature change")
    committed.git("checkout", "--quiet", "--detach", head)
    document = check_json(run_cli, committed.root)
    assert document["base"]["ref"] == "merge-base(main, HEAD)"
    entry = prompt_entry(document, "prompts/a.md")
    assert entry["head"]["input_tokens"] == tokens(reference_encoding, "Detached head text.\n")


def test_linked_worktree(committed: GitRepo, run_cli: Any, reference_encoding: Any, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    committed.git("worktree", "add", "--quiet", "-b", "wt", str(linked))
    (linked / "prompts/a.md").write_text("Edited in the linked worktree.\n")
    staged = subprocess.run(["git", "add", "prompts/a.md"], cwd=linked, check=False)
    assert staged.returncode == 0
    for mode in ("--worktree", "--staged"):
        entry = prompt_entry(check_json(run_cli, linked, mode), "prompts/a.md")
        assert entry["head"]["input_tokens"] == tokens(reference_encoding, "Edited in the linked worktree.\n")
    # The main checkout is untouched by the linked one.
    main_entry = prompt_entry(check_json(run_cli, committed.root, "--worktree"), "prompts/a.md")
    assert main_entry["change"] == "unchanged"


def test_submodule_not_read(committed: GitRepo, run_cli: Any, reference_encoding: Any, tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    library = GitRepo(tmp_path / "library")
    library.write("prompts/inner.md", "Inside the submodule.\n")
    library.commit("library")
    committed.git(
        "-c", "protocol.file.allow=always", "submodule", "--quiet", "add", str(library.root), "vendor/library"
    )
    committed.write("prompts/a.md", "Parent prompt changed.\n")
    committed.commit("add submodule")
    for args in (("--base", "HEAD~1"), ("--worktree",), ("--staged",)):
        document = check_json(run_cli, committed.root, *args)
        paths = [prompt["path"] for prompt in document["prompts"]]
        assert paths == ["prompts/a.md"], args
        assert document["prompts"][0]["head"]["input_tokens"] == tokens(reference_encoding, "Parent prompt changed.\n")


def test_unborn_branch_in_existing_repo(committed: GitRepo, run_cli: Any) -> None:
    committed.git("checkout", "--quiet", "--orphan", "empty")
    result = run_cli(["check", "--staged"], committed.root)
    assert result.exit_code == 2
    assert "no commits yet" in result.stderr
    assert "Traceback" not in result.stderr


HOOK = """#!/bin/sh
exec "{python}" -m promptguard check --staged --format json --output "{output}"
"""


def test_partial_commit_hook_sees_temporary_index(committed: GitRepo, reference_encoding: Any, tmp_path: Path) -> None:
    # `git commit -- PATH` builds a temporary index of HEAD plus PATH, and points
    # GIT_INDEX_FILE at it for hooks; --staged must count exactly that.
    committed.write("prompts/b.md", "B at base.\n")
    committed.commit("add b")
    output = tmp_path / "hook-report.json"
    hook = committed.root / ".git/hooks/pre-commit"
    hook.write_text(HOOK.format(python=sys.executable, output=output))
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)

    committed.write("prompts/a.md", "A will be committed.\n")
    committed.write("prompts/b.md", "B is staged but left out of this commit.\n")
    committed.git("add", "prompts/b.md")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    commit = subprocess.run(
        ["git", "commit", "--quiet", "-m", "only a", "--", "prompts/a.md"],
        cwd=committed.root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert commit.returncode == 0, commit.stderr

    document = json.loads(output.read_text())
    entry_a = prompt_entry(document, "prompts/a.md")
    entry_b = prompt_entry(document, "prompts/b.md")
    assert entry_a["change"] == "modified"
    assert entry_a["head"]["input_tokens"] == tokens(reference_encoding, "A will be committed.\n")
    assert entry_b["change"] == "unchanged"
    assert entry_b["head"]["input_tokens"] == tokens(reference_encoding, "B at base.\n")


def test_git_dir_set_from_subdirectory(
    committed: GitRepo, run_cli: Any, monkeypatch: pytest.MonkeyPatch, reference_encoding: Any
) -> None:
    # Hooks run with GIT_DIR set and the work tree as the current directory.
    committed.write("prompts/a.md", "Staged under GIT_DIR.\n")
    committed.git("add", "prompts/a.md")
    monkeypatch.setenv("GIT_DIR", str(committed.root / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(committed.root / ".git/index"))
    entry = prompt_entry(check_json(run_cli, committed.root, "--staged"), "prompts/a.md")
    assert entry["head"]["input_tokens"] == tokens(reference_encoding, "Staged under GIT_DIR.\n")


def test_config_from_worktree_not_head(committed: GitRepo, run_cli: Any) -> None:
    # The configuration of the branch under review applies to both sides, as documented.
    committed.write("promptguard.toml", CONFIG.replace("gpt-4o", "gpt-4.1"))
    entry = prompt_entry(check_json(run_cli, committed.root, "--base", "HEAD"), "prompts/a.md")
    assert entry["model"] == "gpt-4.1"
