"""Tests for the Markdown report: golden files, escaping of repository text, size limit.

Update the golden files after an intended change of the output with

    PROMPTGUARD_UPDATE_GOLDEN=1 python -m pytest tests/test_markdown_report.py

and review the diff of tests/golden/ before committing it.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from report_builders import (
    budget,
    fail_report,
    pass_report,
    prompt,
    report,
    side,
    warn_report,
    with_many_prompts,
)

from promptguard.reports.markdown import (
    describe_hunk,
    escape_markdown,
    format_money,
    format_percent_change,
    render_markdown,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("PROMPTGUARD_UPDATE_GOLDEN") == "1"


def assert_matches_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / name
    if UPDATE_GOLDEN:
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs; if the change is intended, rerun with PROMPTGUARD_UPDATE_GOLDEN=1"


@pytest.mark.parametrize(
    ("name", "build"),
    [("pass.md", pass_report), ("warn.md", warn_report), ("fail.md", fail_report)],
)
def test_render_matches_golden(name: str, build: Any) -> None:
    assert_matches_golden(name, render_markdown(build()))


def test_verdict_line_states_status_and_deltas() -> None:
    first_line = render_markdown(fail_report()).splitlines()[0]

    assert "❌ promptguard: fail" in first_line
    assert "monthly cost +\\$5,900.00" in first_line
    assert "cost per success +\\$0.0073" in first_line


def test_verdict_line_omits_cost_per_success_without_fixtures() -> None:
    first_line = render_markdown(pass_report()).splitlines()[0]

    assert "cost per success" not in first_line


# Escaping of repository text.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a|b", "a\\|b"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert\\(1\\)&gt;"),
        ("</details>", "&lt;/details&gt;"),
        ("end -->", "end --&gt;"),
        ("&#64;team", "&amp;\\#64;team"),
        ("@team", "@\u200bteam"),
        ("cc @org/team", "cc @\u200borg/team"),
        ("[click](https://evil.example)", "\\[click\\]\\(https:\u200b//evil.example\\)"),
        ("see www.evil.example", "see www\u200b.evil.example"),
        ("line1\nline2\r\n", "line1 line2  "),
        ("`code` *bold* _it_ ~~s~~ $x$", "\\`code\\` \\*bold\\* \\_it\\_ \\~\\~s\\~\\~ \\$x\\$"),
        ("back\\slash", "back\\\\slash"),
        ("plain/path-1.prompt", "plain/path-1.prompt"),
    ],
)
def test_escape_markdown(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


def hostile_report() -> dict[str, Any]:
    path = "prompts/x|y</details><!--@octocat [a](https://evil.example)\n| injected | row |.prompt"
    prompts = [
        prompt(
            path,
            "modified",
            side(10, "0.001", "1.00"),
            side(20, "0.002", "2.00"),
            model="gpt|<b>@team</b>",
        ),
        prompt("prompts/same.prompt", "unchanged", side(5, "0.001", "1.00"), side(5, "0.001", "1.00")),
    ]
    budgets = [budget("max|tokens", path, "fail", "15", "20", "</details> @everyone <script>x</script>")]
    return report(
        "fail",
        prompts,
        budgets,
        totals=(15, "2.00", 25, "3.00", "1.00"),
        warnings=["-->@admin https://evil.example"],
    )


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_hostile_names_keep_table_shape() -> None:
    markdown = render_markdown(hostile_report())

    header_pipes = 0
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header_pipes = 0
        elif header_pipes == 0:
            header_pipes = unescaped_pipes(line)
        else:
            assert unescaped_pipes(line) == header_pipes, line


def test_hostile_names_add_no_html_or_mentions() -> None:
    markdown = render_markdown(hostile_report())

    assert markdown.count("<details>") == markdown.count("</details>")
    assert "<!--" not in markdown
    assert "<script>" not in markdown
    assert "<b>" not in markdown
    assert re.search(r"@(octocat|team|everyone|admin)", markdown) is None
    assert "https://" not in markdown
    assert "](" not in markdown


def test_hostile_names_stay_on_one_line() -> None:
    markdown = render_markdown(hostile_report())

    assert "| injected | row |" not in markdown


def test_long_cell_is_cut() -> None:
    document = pass_report()
    document["budgets"][0]["message"] = "x" * 5000

    markdown = render_markdown(document)

    assert "x" * 299 + "…" in markdown
    assert "x" * 300 not in markdown


# Number formatting.


@pytest.mark.parametrize(
    ("amount", "signed", "cents", "expected"),
    [
        ("1234.5", False, False, "$1,234.50"),
        ("0.000123456", False, False, "$0.0001235"),
        ("0.3", True, True, "+$0.30"),
        ("-0.3", False, False, "-$0.3"),
        ("0.004", False, True, "$0.004"),
        ("0", True, True, "$0"),
        ("0.99996", False, False, "$1.00"),
    ],
)
def test_format_money(amount: str, signed: bool, cents: bool, expected: str) -> None:
    assert format_money(Decimal(amount), signed=signed, cents=cents) == expected


@pytest.mark.parametrize(
    ("base", "head", "expected"),
    [(1204, 1286, "+6.8%"), (800, 780, "-2.5%"), (0, 10, "n/a"), (0, 0, "0%"), (3, 3, "0%")],
)
def test_format_percent_change(base: int, head: int, expected: str) -> None:
    assert format_percent_change(base, head) == expected


@pytest.mark.parametrize(
    ("hunk", "expected"),
    [
        (
            {"base_start": 12, "base_end": 18, "head_start": 12, "head_end": 18, "token_delta": 82},
            "+82 tokens: lines 12-18",
        ),
        (
            {"base_start": 3, "base_end": 3, "head_start": 3, "head_end": 3, "token_delta": -4},
            "-4 tokens: line 3",
        ),
        (
            {
                "base_start": 80,
                "base_end": 90,
                "head_start": 80,
                "head_end": 79,
                "token_delta": -30,
            },
            "-30 tokens: lines 80-90 (removed)",
        ),
    ],
)
def test_describe_hunk(hunk: dict[str, int], expected: str) -> None:
    assert describe_hunk(hunk) == expected


def test_hunks_sorted_largest_first() -> None:
    markdown = render_markdown(fail_report())
    hunk_lines = [line for line in markdown.splitlines() if "tokens: " in line]

    deltas = [line.split("|")[2].strip().split(" ")[0] for line in hunk_lines]
    assert deltas == ["+2,100", "+230", "+60", "-30"]


# Size limit.

GITHUB_COMMENT_LIMIT = 65_536


def table_rows(markdown: str) -> int:
    return sum(1 for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("| Prompt |"))


def test_large_report_fits_limit() -> None:
    document = with_many_prompts(fail_report(), 3000)
    full = render_markdown(document)
    assert len(full) > GITHUB_COMMENT_LIMIT

    limited = render_markdown(
        document,
        max_chars=GITHUB_COMMENT_LIMIT,
        full_report_hint="the `promptguard-report` artifact",
    )

    assert len(limited) <= GITHUB_COMMENT_LIMIT
    assert "The full report is in the `promptguard-report` artifact." in limited


def test_large_report_counts_dropped_rows() -> None:
    document = with_many_prompts(fail_report(), 3000)
    full = render_markdown(document)

    limited = render_markdown(document, max_chars=GITHUB_COMMENT_LIMIT)

    match = re.search(r"> ([0-9,]+) rows were left out", limited)
    assert match is not None
    dropped = int(match.group(1).replace(",", ""))
    assert table_rows(limited) + dropped == table_rows(full)


def test_large_report_keeps_failing_budgets() -> None:
    document = with_many_prompts(fail_report(), 3000)

    limited = render_markdown(document, max_chars=GITHUB_COMMENT_LIMIT)

    assert "max\\_cost\\_per\\_success\\_increase" in limited
    assert "**Totals**" in limited
    assert "Token deltas by hunk" not in limited
    assert limited.count("<details>") == limited.count("</details>")


def test_report_under_limit_is_unchanged() -> None:
    document = fail_report()

    assert render_markdown(document, max_chars=GITHUB_COMMENT_LIMIT) == render_markdown(document)


def test_tiny_limit_is_respected() -> None:
    assert len(render_markdown(fail_report(), max_chars=200)) <= 200


def test_report_without_changes_or_budgets() -> None:
    document = report(
        "pass",
        [prompt("prompts/a.prompt", "unchanged", side(5, "0.001", "1.00"), side(5, "0.001", "1.00"))],
        [],
        totals=(5, "1.00", 5, "1.00", "0"),
    )

    markdown = render_markdown(document)

    assert "No prompt changed." in markdown
    assert "No budgets are configured." in markdown
    assert "monthly cost $0" in markdown.replace("\\$", "$")
