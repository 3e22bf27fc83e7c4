"""Tests for action.yml: its inputs and outputs, and the merge-base step on a shallow clone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ACTION = Path(__file__).parent.parent / "action.yml"


def load_action() -> dict[str, Any]:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return action


def step_script(name: str) -> str:
    [step] = [step for step in load_action()["runs"]["steps"] if step.get("name") == name]
    return str(step["run"])


def git(cwd: Path, *args: str) -> str:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    environment.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    completed = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=environment)
    return completed.stdout.strip()


def test_inputs_and_outputs() -> None:
    action = load_action()

    assert set(action["inputs"]) == {
        "base",
        "config",
        "working-directory",
        "comment",
        "comment-behavior",
        "fail-on",
        "python-version",
        "github-token",
    }
    assert set(action["outputs"]) == {"status", "report-path", "monthly-cost-delta"}
    assert action["runs"]["using"] == "composite"


def test_installs_from_action_path() -> None:
    assert '"${{ github.action_path }}"' in step_script("Install promptguard")


@pytest.mark.slow
def test_merge_base_found_in_shallow_clone(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    for index in range(120):
        git(origin, "commit", "-q", "--allow-empty", "-m", f"main {index}")
        if index == 59:
            fork_point = git(origin, "rev-parse", "HEAD")
            git(origin, "branch", "feature")
    git(origin, "checkout", "-q", "feature")
    for index in range(3):
        git(origin, "commit", "-q", "--allow-empty", "-m", f"feature {index}")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", origin.as_uri(), str(clone))
    output = tmp_path / "output.txt"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    environment.update(GITHUB_OUTPUT=str(output), BASE_REF="main", INPUT_BASE="")

    subprocess.run(
        ["bash", "-e", "-c", step_script("Find the base revision")],
        cwd=clone,
        check=True,
        env=environment,
    )

    assert output.read_text(encoding="utf-8") == f"ref={fork_point}\n"
