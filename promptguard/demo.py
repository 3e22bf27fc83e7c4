"""The demo: a throwaway repository with a realistic prompt change, checked like a pull request."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from promptguard.errors import PromptguardError
from promptguard.revisions import run_git

PREVIOUS_DIR = "_previous"
BASE_MESSAGE = "Add support prompts"
HEAD_MESSAGE = "Triage: add a disclaimer, two more retrieved documents and a priority field"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "promptguard demo",
    "GIT_AUTHOR_EMAIL": "demo@promptguard.invalid",
    "GIT_COMMITTER_NAME": "promptguard demo",
    "GIT_COMMITTER_EMAIL": "demo@promptguard.invalid",
    "GIT_AUTHOR_DATE": "2026-11-02T10:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-11-02T10:00:00+00:00",
}


def sample_prompts() -> Path:
    """Return the sample prompts: inside the installed package, else at the top of a source checkout."""
    package_dir = Path(str(resources.files("promptguard")))
    for candidate in (package_dir / "sample_prompts", package_dir.parent / "sample_prompts"):
        if (candidate / "promptguard.toml").is_file():
            return candidate
    raise PromptguardError(
        f"sample prompts not found next to {package_dir}",
        fix="reinstall promptguard: pip install --force-reinstall promptguard-ci",
    )


def _copy_tree(source: Path, destination: Path, skip: frozenset[str] = frozenset()) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name in skip or item.name in ("__pycache__", "__init__.py"):
            continue
        target = destination / item.name
        if item.is_dir():
            _copy_tree(item, target)
        else:
            target.write_bytes(item.read_bytes())


def build_demo_repository(directory: Path) -> tuple[str, str]:
    """Create a git repository with two commits (before and after the change); return their ids."""
    samples = sample_prompts()
    run_git(directory, "init", "--quiet", "--initial-branch=main")
    run_git(directory, "config", "commit.gpgsign", "false")

    # Base commit: the current samples with the previous versions laid over them.
    _copy_tree(samples, directory, skip=frozenset({PREVIOUS_DIR}))
    _copy_tree(samples / PREVIOUS_DIR, directory)
    run_git(directory, "add", "--all")
    run_git(directory, "commit", "--quiet", "-m", BASE_MESSAGE, env=_GIT_ENV)
    base = run_git(directory, "rev-parse", "HEAD").strip()

    _copy_tree(samples, directory, skip=frozenset({PREVIOUS_DIR}))
    run_git(directory, "add", "--all")
    run_git(directory, "commit", "--quiet", "-m", HEAD_MESSAGE, env=_GIT_ENV)
    head = run_git(directory, "rev-parse", "HEAD").strip()
    return base, head


def remove_repository(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
