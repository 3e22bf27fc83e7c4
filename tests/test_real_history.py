"""`check` on real prompt history: the fabric project's system prompts, from a git bundle."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_REAL

BUNDLE = SHARED_REAL / "fabric-prompts.bundle"
# A commit of the bundle where two prompts grew several-fold.
GROWTH_COMMIT = "31b7b73"
GROWN_PROMPTS = ("patterns/ask_uncle_duke/system.md", "patterns/dialog_with_socrates/system.md")

pytestmark = pytest.mark.skipif(not BUNDLE.is_file(), reason=f"real prompt history not found at {BUNDLE}")


@pytest.fixture(scope="module")
def fabric(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = tmp_path_factory.mktemp("fabric") / "fabric"
    subprocess.run(["git", "clone", "--quiet", str(BUNDLE), str(clone)], check=True)
    return clone


def show(repo: Path, revision: str, path: str) -> str:
    result = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=repo, capture_output=True, check=True)
    return result.stdout.decode("utf-8").replace("\r\n", "\n")


def test_grown_prompts_match_tiktoken(fabric: Path, run_cli: Any, reference_encoding: Any) -> None:
    encoding = reference_encoding("o200k_base")
    result = run_cli(
        [
            "check",
            "--base",
            f"{GROWTH_COMMIT}~1",
            "--head",
            GROWTH_COMMIT,
            "--prompts",
            "patterns/*/system.md",
            "--format",
            "json",
        ],
        fabric,
    )
    assert result.exit_code == 0, result.stderr
    prompts = {p["path"]: p for p in json.loads(result.stdout)["prompts"]}
    for path in GROWN_PROMPTS:
        base_text = show(fabric, f"{GROWTH_COMMIT}~1", path)
        head_text = show(fabric, GROWTH_COMMIT, path)
        assert prompts[path]["change"] == "modified"
        assert prompts[path]["base"]["input_tokens"] == len(encoding.encode_ordinary(base_text)) + 6
        assert prompts[path]["head"]["input_tokens"] == len(encoding.encode_ordinary(head_text)) + 6
        assert prompts[path]["head"]["input_tokens"] > 3 * prompts[path]["base"]["input_tokens"]


def test_move_to_data_directory_is_rename(fabric: Path, run_cli: Any) -> None:
    first_moved = subprocess.run(
        ["git", "log", "--format=%H", "--diff-filter=A", "--reverse", "--", "data/patterns/ai/system.md"],
        cwd=fabric,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    result = run_cli(
        ["check", "--base", f"{first_moved}~1", "--head", first_moved, "--prompts", "**/system.md", "--format", "json"],
        fabric,
    )
    assert result.exit_code == 0, result.stderr
    prompts = {p["path"]: p for p in json.loads(result.stdout)["prompts"]}
    moved = prompts["data/patterns/ai/system.md"]
    assert moved["change"] == "renamed"
    assert moved["previous_path"] == "patterns/ai/system.md"
    assert moved["base"]["input_tokens"] == moved["head"]["input_tokens"]
