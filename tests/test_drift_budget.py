"""Drift budgets in `check`: growth over a window, so many small increases cannot slip past."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

from tests.conftest import GitRepo

CONFIG = """
model = "gpt-4o"
price_date = "2026-12-01"

[[prompts]]
path = "prompts/*.md"

[budgets]
max_input_tokens_increase_pct = { fail = 20 }
max_input_tokens_growth_pct = { fail = 25, window_days = 90 }
"""


def commit_at(repo: GitRepo, date: str, message: str) -> str:
    os.environ["GIT_AUTHOR_DATE"] = date
    os.environ["GIT_COMMITTER_DATE"] = date
    return repo.commit(message)


def test_small_steps_fail_growth_budget(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    encoding = reference_encoding("o200k_base")
    text = "Base instructions for the assistant, written once.\n" * 4
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", text)
    commit_at(repo, "2026-06-01T10:00:00+00:00", "start")
    start_tokens = len(encoding.encode_ordinary(text)) + 6
    # Before the window: this version is the one at the window's start.
    for step in range(6):
        text += f"Extra rule number {step}: be precise.\n"
        commit_at(repo, f"2026-09-{10 + step:02d}T10:00:00+00:00", f"step {step}")
        repo.write("prompts/a.md", text)
    head = commit_at(repo, "2026-10-01T10:00:00+00:00", "last step")
    head_tokens = len(encoding.encode_ordinary(text)) + 6

    result = run_cli(["check", "--base", f"{head}~1", "--format", "json"], repo.root)
    document = json.loads(result.stdout)
    per_change = next(b for b in document["budgets"] if b["budget"] == "max_input_tokens_increase_pct")
    assert per_change["level"] == "pass"
    growth = next(b for b in document["budgets"] if b["budget"] == "max_input_tokens_growth_pct")
    expected = Decimal(head_tokens - start_tokens) * 100 / Decimal(start_tokens)
    assert Decimal(growth["actual"]) == expected.normalize()
    assert growth["level"] == "fail"
    assert result.exit_code == 1


def test_young_history_growth_logged(repo: GitRepo, run_cli: Any) -> None:
    config = CONFIG.split("[budgets]")[0] + "[budgets]\nmax_monthly_cost_growth_pct = { warn = 5 }\n"
    repo.write("promptguard.toml", config)
    repo.write("prompts/a.md", "First version.\n")
    commit_at(repo, "2026-11-20T10:00:00+00:00", "start")
    repo.write("prompts/a.md", "First version, with one more rule.\n")
    head = commit_at(repo, "2026-11-25T10:00:00+00:00", "change")

    result = run_cli(["check", "--base", f"{head}~1", "--format", "json"], repo.root)

    assert result.exit_code == 0, result.stderr
    assert "max_monthly_cost_growth_pct not evaluated: no prompt existed at the start of its 90-day window" in (
        result.stderr
    )
    document = json.loads(result.stdout)
    assert all(b["budget"] != "max_monthly_cost_growth_pct" for b in document["budgets"])
