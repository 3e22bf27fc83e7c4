"""Tests for .pre-commit-hooks.yaml, run by the real `pre-commit try-repo` in temporary git repos.

pre-commit builds the hook's virtualenv with pip. To stay offline, pip gets
no index and no dependencies, and the hook imports promptguard's dependencies
from the test interpreter's site-packages through PYTHONPATH. Build tools are
left out of that path, so the hook's own virtualenv builds promptguard with
its seeded setuptools.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("promptguard.commands.check") is None,
        reason="the hook runs `promptguard check --staged --changed-only`; promptguard.commands.check is absent",
    ),
    pytest.mark.skipif(
        shutil.which("pre-commit", path=str(Path(sys.executable).parent)) is None
        and shutil.which("pre-commit") is None,
        reason="pre-commit is not installed",
    ),
]

CONFIG = """\
model = "gpt-4o-mini"
requests_per_month = 1000
expected_output_tokens = 10
price_date = "2025-06-01"
include = ["prompts/**/*.md"]

[budgets]
max_input_tokens = {{ fail = {limit} }}
"""


_BUILD_TOOLS = (
    "setuptools",
    "pkg_resources",
    "_distutils_hack",
    "pip",
    "wheel",
    "promptguard",
    "__editable__",
)


def dependency_path(tmp_path: Path) -> Path:
    """Return a directory of links to the installed packages, except build tools and promptguard."""
    directory = tmp_path / "dependencies"
    directory.mkdir()
    for site_packages in site.getsitepackages():
        for entry in Path(site_packages).iterdir():
            if entry.name.startswith(_BUILD_TOOLS) or entry.suffix == ".pth":
                continue
            link = directory / entry.name
            if not link.exists():
                link.symlink_to(entry)
    return directory


def clean_environment(tmp_path: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "PIP_"))}
    environment.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        PIP_NO_INDEX="1",
        PIP_NO_DEPS="1",
        PIP_NO_BUILD_ISOLATION="0",
        PYTHONPATH=str(dependency_path(tmp_path)),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return environment


def git(repo: Path, environment: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=environment, check=True, capture_output=True)


def make_repo(tmp_path: Path, environment: dict[str, str], limit: int) -> Path:
    repo = tmp_path / "repo"
    (repo / "prompts").mkdir(parents=True)
    git(repo, environment, "init", "-q", "-b", "main")
    (repo / "promptguard.toml").write_text(CONFIG.format(limit=limit), encoding="utf-8")
    (repo / "prompts/summarize.md").write_text("Summarize the text.\n", encoding="utf-8")
    (repo / "README.md").write_text("# demo\n", encoding="utf-8")
    git(repo, environment, "add", ".")
    git(repo, environment, "commit", "-q", "-m", "initial")
    return repo


def try_repo(repo: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pre-commit", "try-repo", str(PROJECT_ROOT), "promptguard"],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_hook_fails_on_budget(tmp_path: Path) -> None:
    environment = clean_environment(tmp_path)
    repo = make_repo(tmp_path, environment, limit=20)
    longer = "Summarize the text in three bullet points, each under twenty words, in plain English.\n"
    (repo / "prompts/summarize.md").write_text(longer, encoding="utf-8")
    git(repo, environment, "add", "prompts/summarize.md")

    result = try_repo(repo, environment)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "promptguard" in result.stdout
    assert "Failed" in result.stdout


def test_hook_passes_within_budget(tmp_path: Path) -> None:
    environment = clean_environment(tmp_path)
    repo = make_repo(tmp_path, environment, limit=4000)
    (repo / "prompts/summarize.md").write_text("Summarize the text briefly.\n", encoding="utf-8")
    git(repo, environment, "add", "prompts/summarize.md")

    result = try_repo(repo, environment)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_hook_skips_unrelated_files(tmp_path: Path) -> None:
    environment = clean_environment(tmp_path)
    repo = make_repo(tmp_path, environment, limit=1)
    (repo / "README.md").write_text("# demo, edited\n", encoding="utf-8")
    git(repo, environment, "add", "README.md")

    result = try_repo(repo, environment)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Skipped" in result.stdout
