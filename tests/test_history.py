"""`promptguard history` on real git repositories built in tmp_path and on the fabric bundle."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from promptguard.check import CheckOptions, run_check
from promptguard.config import load_config
from promptguard.discovery import discover
from promptguard.errors import RevisionError
from promptguard.history import (
    HistoryOptions,
    HistoryResult,
    count_batches,
    drift_figure,
    drift_figures,
    run_history,
)
from promptguard.reports.history_formats import mermaid_string, sparkline
from promptguard.revisions import Repository
from promptguard.tokencache import TokenCache
from promptguard.tokenizers import Message, tokenizer_for
from tests.conftest import SHARED_REAL, GitRepo

CONFIG = """
model = "gpt-4o-mini"
expected_output_tokens = 300
requests_per_month = 1000
price_date = "2026-01-01"
include = ["prompts/**/*", "**/*.jinja2", "**/*.prompty"]
variables = { product = "Acme Router" }

[pricing."gpt-4o-mini"]
input_per_million = 0.15
output_per_million = 0.6
"""

OLD_TEXT = "You are a support assistant.\nAnswer briefly and politely.\n"
TEXT_V2 = OLD_TEXT + "Never promise refunds; point to the refund policy instead.\n"
TEMPLATE = (
    "You are the support assistant for {{ product }}.\n"
    "Answer questions about setup, firmware updates and warranty.\n"
    "Keep every answer under five sentences and be polite.\n"
)
PROMPTY = "---\nname: support\n---\n" + TEMPLATE + "Say which firmware version you assume.\n"


def commit_at(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, date: str, message: str) -> str:
    monkeypatch.setenv("GIT_AUTHOR_DATE", date)
    monkeypatch.setenv("GIT_COMMITTER_DATE", date)
    return repo.commit(message)


def move(repo: GitRepo, old: str, new: str) -> None:
    (repo.root / new).parent.mkdir(parents=True, exist_ok=True)
    repo.git("mv", old, new)


def expected_tokens(encoding: Any, text: str) -> int:
    """Return the input tokens of a one-message prompt: text, 3 framing, 3 reply-priming tokens."""
    return len(encoding.encode_ordinary(text)) + 6


def cost(input_tokens: int) -> Decimal:
    return (Decimal(input_tokens) * Decimal("0.15") + 300 * Decimal("0.6")) / 1_000_000


@pytest.fixture
def history_repo(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A prompt that moves into prompts/, grows, and a template renamed from Jinja2 to Prompty."""
    repo.write("promptguard.toml", CONFIG)
    repo.write("drafts/support.txt", OLD_TEXT)
    repo.write("templates/router.jinja2", TEMPLATE)
    commits = {"first": commit_at(repo, monkeypatch, "2025-01-10T09:00:00+00:00", "Add drafts")}
    # drafts/ matches no glob, so only a whole-tree rename search finds this move.
    move(repo, "drafts/support.txt", "prompts/support.txt")
    commits["move"] = commit_at(repo, monkeypatch, "2025-02-10T09:00:00+00:00", "Move support prompt")
    repo.write("prompts/support.txt", TEXT_V2)
    commits["grow"] = commit_at(repo, monkeypatch, "2025-03-10T09:00:00+00:00", "Forbid refund promises")
    move(repo, "templates/router.jinja2", "templates/router.prompty")
    repo.write("templates/router.prompty", PROMPTY)
    commits["prompty"] = commit_at(repo, monkeypatch, "2025-04-10T09:00:00+00:00", "Convert router to Prompty")
    return commits


def history(repo: GitRepo, cache: TokenCache | None = None, **options: Any) -> HistoryResult:
    repository = Repository(repo.root)
    try:
        config = load_config(repository.root)
        return run_history(repository, config, HistoryOptions(**options), cache or TokenCache.disabled())
    finally:
        repository.close()


def test_rename_from_outside_globs(repo: GitRepo, history_repo: dict[str, str], reference_encoding: Any) -> None:
    encoding = reference_encoding("o200k_base")
    result = history(repo, prompts=("prompts/support.txt",))

    assert len(result.prompts) == 1
    points = result.prompts[0].points
    assert [point.commit for point in points] == [
        history_repo["first"],
        history_repo["move"],
        history_repo["grow"],
    ]
    assert [point.path for point in points] == [
        "drafts/support.txt",
        "prompts/support.txt",
        "prompts/support.txt",
    ]
    assert [point.input_tokens for point in points] == [
        expected_tokens(encoding, OLD_TEXT),
        expected_tokens(encoding, OLD_TEXT),
        expected_tokens(encoding, TEXT_V2),
    ]
    assert points[-1].cost_per_request == cost(expected_tokens(encoding, TEXT_V2))
    assert points[0].date == "2025-01-10T09:00:00+00:00"
    assert points[-1].subject == "Forbid refund promises"
    assert points[-1].author == "Test Author"


def test_format_change_jinja2_to_prompty(repo: GitRepo, history_repo: dict[str, str], reference_encoding: Any) -> None:
    encoding = reference_encoding("o200k_base")
    result = history(repo, prompts=("templates/router.prompty",))

    points = result.prompts[0].points
    assert [point.path for point in points] == [
        "templates/router.jinja2",
        "templates/router.prompty",
    ]
    rendered = TEMPLATE.replace("{{ product }}", "Acme Router")
    prompty_body = PROMPTY.split("---\n", 2)[2].replace("{{ product }}", "Acme Router")
    assert points[0].input_tokens == expected_tokens(encoding, rendered)
    assert points[1].input_tokens == expected_tokens(encoding, prompty_body.strip())


def test_growth_and_largest_jump(repo: GitRepo, history_repo: dict[str, str], reference_encoding: Any) -> None:
    encoding = reference_encoding("o200k_base")
    prompt = history(repo, prompts=("prompts/support.txt",)).prompts[0]
    before, after = expected_tokens(encoding, OLD_TEXT), expected_tokens(encoding, TEXT_V2)

    assert prompt.growth_pct == (Decimal(after) - before) * 100 / before
    assert len(prompt.largest_jumps) == 1
    assert prompt.largest_jumps[0].commit == history_repo["grow"]
    assert prompt.largest_jumps[0].delta == after - before
    assert prompt.largest_jumps[0].cost_delta == cost(after) - cost(before)


def test_all_prompts_without_arguments(repo: GitRepo, history_repo: dict[str, str]) -> None:
    result = history(repo)

    assert [prompt.path for prompt in result.prompts] == [
        "prompts/support.txt",
        "templates/router.prompty",
    ]


def test_since_date_keeps_version_in_effect(repo: GitRepo, history_repo: dict[str, str]) -> None:
    points = history(repo, prompts=("prompts/support.txt",), since="2025-03-01").prompts[0].points

    assert [point.commit for point in points] == [history_repo["move"], history_repo["grow"]]


def test_since_ref_and_max_count(repo: GitRepo, history_repo: dict[str, str]) -> None:
    since_ref = history(repo, prompts=("prompts/support.txt",), since=history_repo["move"]).prompts[0]
    last_one = history(repo, prompts=("prompts/support.txt",), max_count=1).prompts[0]

    assert [point.commit for point in since_ref.points] == [
        history_repo["move"],
        history_repo["grow"],
    ]
    assert [point.commit for point in last_one.points] == [history_repo["grow"]]


def test_missing_prompt_path_raises(repo: GitRepo, history_repo: dict[str, str]) -> None:
    with pytest.raises(RevisionError, match="does not exist at HEAD"):
        history(repo, prompts=("prompts/nope.txt",))


def test_invalid_since_date_raises(repo: GitRepo, history_repo: dict[str, str]) -> None:
    with pytest.raises(RevisionError, match="invalid date"):
        history(repo, since="2025-13-45")


def test_deleted_and_readded_keeps_old_versions(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, reference_encoding: Any
) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.txt", OLD_TEXT)
    first = commit_at(repo, monkeypatch, "2025-01-01T00:00:00+00:00", "add")
    (repo.root / "prompts/a.txt").unlink()
    commit_at(repo, monkeypatch, "2025-02-01T00:00:00+00:00", "delete")
    repo.write("prompts/a.txt", TEXT_V2)
    last = commit_at(repo, monkeypatch, "2025-03-01T00:00:00+00:00", "add again")

    points = history(repo).prompts[0].points

    assert [point.commit for point in points] == [first, last]


def test_batch_count_matches_count_messages() -> None:
    tokenizer = tokenizer_for("gpt-4o")
    estimated = tokenizer_for("claude-3-5-sonnet")
    chat = (
        Message("system", "Be brief."),
        Message("user", "Hi there", name="ada"),
        Message("assistant", ""),
    )
    single = (Message("system", "One message only."),)

    totals = count_batches([(tokenizer, chat), (estimated, chat), (tokenizer, single)])

    assert totals == [
        tokenizer.count_messages(chat),
        estimated.count_messages(chat),
        tokenizer.count_messages(single),
    ]


def test_volatility_band_flags_jump(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("promptguard.toml", CONFIG)
    line = "Answer the question about the router.\n"
    for day, lines in enumerate([20, 21, 19, 21, 20, 40], start=1):
        repo.write("prompts/a.txt", line * lines + f"Version {day}.\n")
        commit_at(repo, monkeypatch, f"2025-01-{day:02d}T00:00:00+00:00", f"v{day}")

    prompt = history(repo).prompts[0]

    assert len(prompt.flagged) == 1
    assert prompt.flagged[0].input_tokens == prompt.points[-1].input_tokens


def test_second_run_hits_cache(repo: GitRepo, history_repo: dict[str, str], tmp_path: Path) -> None:
    first_cache = TokenCache(tmp_path / "cache" / "counts.sqlite3")
    first = history(repo, first_cache)
    first_cache.close()
    second_cache = TokenCache(tmp_path / "cache" / "counts.sqlite3")
    second = history(repo, second_cache)
    second_cache.close()

    assert first.cache_misses == 4
    assert second.cache_misses == 0
    assert second.cache_hits == 4
    assert second.prompts == first.prompts


def test_corrupt_cache_gives_right_figures(
    repo: GitRepo, history_repo: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "counts.sqlite3"
    path.write_bytes(b"this is not a SQLite database" * 100)
    expected = history(repo)

    cache = TokenCache(path)
    result = history(repo, cache)
    cache.close()

    assert result.prompts == expected.prompts
    assert "token-count cache" in caplog.text


def test_two_processes_share_cache(repo: GitRepo, history_repo: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, "PROMPTGUARD_CACHE_DIR": str(tmp_path / "shared-cache")}
    command = [
        sys.executable,
        "-m",
        "promptguard",
        "history",
        "--format",
        "json",
        "--repo",
        str(repo.root),
    ]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]

    expected = json.loads(_cli_json(repo, tmp_path / "no-cache"))
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr.decode()
        assert b"warning" not in stderr
        assert json.loads(stdout) == expected


def _cli_json(repo: GitRepo, cache_dir: Path) -> str:
    env = {**os.environ, "PROMPTGUARD_CACHE_DIR": str(cache_dir)}
    command = [sys.executable, "-m", "promptguard", "history", "--format", "json", "--no-cache"]
    completed = subprocess.run([*command, "--repo", str(repo.root)], env=env, capture_output=True, check=True)
    return completed.stdout.decode()


# Output formats, through the command line.


def test_json_format(repo: GitRepo, history_repo: dict[str, str], run_cli: Any, reference_encoding: Any) -> None:
    encoding = reference_encoding("o200k_base")
    result = run_cli(["history", "--format", "json", "prompts/support.txt"], repo.root)

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == 1
    prompt = document["prompts"][0]
    assert prompt["path"] == "prompts/support.txt"
    assert set(prompt["points"][0]) == {
        "commit",
        "date",
        "author",
        "subject",
        "path",
        "input_tokens",
        "cost_per_request",
    }
    assert prompt["points"][-1]["input_tokens"] == expected_tokens(encoding, TEXT_V2)
    assert Decimal(prompt["points"][-1]["cost_per_request"]) == cost(expected_tokens(encoding, TEXT_V2))
    assert prompt["largest_jumps"][0]["commit"] == history_repo["grow"]
    assert prompt["growth_pct"] is not None


def test_csv_format(repo: GitRepo, history_repo: dict[str, str], run_cli: Any) -> None:
    result = run_cli(["history", "--format", "csv"], repo.root)

    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 5
    assert rows[0]["prompt"] == "prompts/support.txt"
    assert rows[0]["path"] == "drafts/support.txt"
    assert rows[-1]["path"] == "templates/router.prompty"


def test_csv_neutralizes_formulas(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.txt", OLD_TEXT)
    commit_at(repo, monkeypatch, "2025-01-01T00:00:00+00:00", '=HYPERLINK("http://x.invalid")')

    result = run_cli(["history", "--format", "csv"], repo.root)

    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert row["subject"].startswith("'=")


def test_text_format_sparkline(repo: GitRepo, history_repo: dict[str, str], run_cli: Any) -> None:
    result = run_cli(["history", "prompts/support.txt"], repo.root)

    assert result.exit_code == 0, result.stderr
    assert "prompts/support.txt" in result.stdout
    assert "▁▁█" in result.stdout
    assert "Forbid refund promises" in result.stdout


def test_single_version_singular(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.txt", OLD_TEXT)
    commit_at(repo, monkeypatch, "2025-01-01T00:00:00+00:00", "add a prompt")

    text = run_cli(["history", "prompts/a.txt"], repo.root)
    markdown = run_cli(["history", "--format", "markdown", "prompts/a.txt"], repo.root)

    assert "1 version, 2025-01-01" in text.stdout
    assert "1 version from 2025-01-01" in markdown.stdout


def test_markdown_format_chart(repo: GitRepo, history_repo: dict[str, str], run_cli: Any) -> None:
    result = run_cli(["history", "--format", "markdown"], repo.root)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("xychart-beta") == 2
    assert 'title "templates/router.prompty"' in result.stdout
    assert f'"{history_repo["grow"][:7]}"' in result.stdout


def test_mermaid_string_escapes() -> None:
    assert mermaid_string('a "quoted"\nname`x`') == "a #quot;quoted#quot; name x "


def test_sparkline_levels() -> None:
    assert sparkline([1, 8]) == "▁█"
    assert sparkline([5, 5, 5]) == "▄▄▄"
    assert len(sparkline(list(range(200)), width=60)) == 60
    assert sparkline(list(range(200)), width=60).endswith("█")


# Drift budgets: head against the prompt as it was window_days before head.


def test_drift_figures_window_start(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, reference_encoding: Any) -> None:
    encoding = reference_encoding("o200k_base")
    repo.write("promptguard.toml", CONFIG)
    repo.write("drafts/a.txt", "Short.\n")
    commit_at(repo, monkeypatch, "2025-01-01T00:00:00+00:00", "first")
    move(repo, "drafts/a.txt", "prompts/a.txt")
    repo.write("prompts/a.txt", OLD_TEXT)
    start = commit_at(repo, monkeypatch, "2025-03-01T00:00:00+00:00", "window start")
    repo.write("prompts/a.txt", TEXT_V2)
    commit_at(repo, monkeypatch, "2025-06-01T00:00:00+00:00", "head")

    repository = Repository(repo.root)
    try:
        config = load_config(repository.root)
        result = run_check(repository.root, config, CheckOptions(base=start), repository)
        specs = discover(repository.list_files(result.head), config).prompts
        figures = drift_figures(repository, config, result.head, result.prompts, specs, window_days=90)
    finally:
        repository.close()

    drift = figures.prompts["prompts/a.txt"]
    before, after = expected_tokens(encoding, OLD_TEXT), expected_tokens(encoding, TEXT_V2)
    assert drift.start_commit == start
    assert drift.start_input_tokens == before
    assert drift_figure("max_input_tokens_growth_pct", drift) == (Decimal(after) - before) * 100 / before
    monthly_growth = (cost(after) - cost(before)) * 100 / cost(before)
    assert drift_figure("max_monthly_cost_growth_pct", drift) == monthly_growth
    assert figures.total_monthly_cost_growth_pct == monthly_growth


# The real history of the fabric prompts.

BUNDLE = SHARED_REAL / "fabric-prompts.bundle"


@pytest.mark.skipif(not BUNDLE.is_file(), reason="the fabric bundle is not available")
def test_fabric_extract_wisdom_history(tmp_path: Path, reference_encoding: Any) -> None:
    clone = tmp_path / "fabric"
    subprocess.run(["git", "clone", "--quiet", str(BUNDLE), str(clone)], check=True, capture_output=True)
    encoding = reference_encoding("o200k_base")
    path = "data/patterns/extract_wisdom/system.md"

    repository = Repository(clone)
    try:
        config = load_config(repository.root, None, {"include": [path]})
        result = run_history(repository, config, HistoryOptions(prompts=(path,)), TokenCache.disabled())
    finally:
        repository.close()

    points = result.prompts[0].points
    assert len(points) > 50
    assert points[0].path == "patterns/extract_wisdom/system.md"
    assert points[-1].path == path
    for point in (points[0], points[-1]):
        text = subprocess.run(
            ["git", "show", f"{point.commit}:{point.path}"],
            cwd=clone,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        assert point.input_tokens == expected_tokens(encoding, text)
