"""Render a version 1 JSON report as GitHub-flavoured Markdown for pull-request comments.

Every string that comes from the repository passes through `escape_markdown`:
paths, model names, budget names and messages, and warnings. So a crafted file
name cannot break a table, add a link or HTML, mention users or close the
`<details>` blocks around it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from promptguard.budgets import format_figure
from promptguard.hunks import changed_lines

STATUS_ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌"}

# A cell longer than this is cut with an ellipsis, so one long budget message
# cannot use up the comment size limit by itself.
MAX_CELL_CHARS = 300

_ZERO_WIDTH_SPACE = "\u200b"
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
# ASCII punctuation that starts Markdown syntax: emphasis, links, images, code,
# tables, strikethrough, math and backslash escapes themselves.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]()!|~$#{}])")
_URL_SCHEME = re.compile(r"://")
_WWW_PREFIX = re.compile(r"(www)(\.)", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """Escape untrusted text so it renders literally inside a table cell or paragraph.

    Line breaks and control characters become spaces (a newline ends a table row).
    `&`, `<` and `>` become HTML entities, so no tag, comment or entity survives,
    including `</details>` and `-->`. Markdown punctuation gets a backslash. A
    zero-width space after `@` stops user and team mentions and e-mail autolinks,
    and one inside `://` and `www.` stops URL autolinks.
    """
    text = _CONTROL_CHARACTERS.sub(" ", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    text = text.replace("@", "@" + _ZERO_WIDTH_SPACE)
    text = _URL_SCHEME.sub(":" + _ZERO_WIDTH_SPACE + "//", text)
    return _WWW_PREFIX.sub(r"\1" + _ZERO_WIDTH_SPACE + r"\2", text)


def _cell(text: str) -> str:
    """Escape untrusted text for a cell and cut it to MAX_CELL_CHARS characters."""
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return escape_markdown(text)


# Formatting of numbers and money.


def format_money(amount: Decimal, *, signed: bool = False, cents: bool = False) -> str:
    """Format US dollars with a leading + or - when signed.

    Amounts from $1 up, and from $0.01 up with `cents`, are rounded to cents.
    Smaller amounts, such as costs per request, keep four significant digits.
    """
    sign = ""
    if amount < 0:
        sign = "-"
    elif signed and amount > 0:
        sign = "+"
    magnitude = abs(amount)

    if magnitude == 0:
        return "$0"
    if magnitude < 1 and not (cents and magnitude >= Decimal("0.01")):
        magnitude = magnitude.quantize(Decimal(1).scaleb(magnitude.adjusted() - 3)).normalize()
    if magnitude >= 1 or cents:
        magnitude = magnitude.quantize(Decimal("0.01")) if magnitude >= Decimal("0.01") else magnitude
        return f"{sign}${magnitude:,}"
    return f"{sign}${magnitude:f}"


def _money_text(amount: Decimal, *, signed: bool = False, cents: bool = False) -> str:
    """Format money for Markdown with an escaped dollar sign, so amounts never render as math."""
    return format_money(amount, signed=signed, cents=cents).replace("$", "\\$")


def format_tokens(count: int, *, signed: bool = False) -> str:
    """Format a token count with thousands separators and, when signed, a leading + or -."""
    if count < 0:
        return f"-{-count:,}"
    if signed and count > 0:
        return f"+{count:,}"
    return f"{count:,}"


def format_percent_change(base: int, head: int) -> str:
    """Format the relative change from base to head, or "n/a" when base is zero."""
    if base == 0:
        return "n/a" if head else "0%"
    percent = Decimal(head - base) * 100 / Decimal(base)
    rounded = percent.quantize(Decimal("0.1"))
    if rounded > 0:
        return f"+{rounded}%"
    if rounded < 0:
        return f"-{-rounded}%"
    return "0%"


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _side(prompt: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    side = prompt.get(name)
    return side if isinstance(side, Mapping) else None


def _input_tokens(side: Mapping[str, Any] | None) -> int:
    return int(side["input_tokens"]) if side else 0


def _monthly_cost(side: Mapping[str, Any] | None) -> Decimal:
    return _money(side["monthly_cost"]) if side else Decimal(0)


def _monthly_delta(prompt: Mapping[str, Any]) -> Decimal:
    return _monthly_cost(_side(prompt, "head")) - _monthly_cost(_side(prompt, "base"))


def _cost_per_success(side: Mapping[str, Any] | None) -> Decimal | None:
    if side is None or side.get("cost_per_success") is None:
        return None
    return Decimal(str(side["cost_per_success"]))


def _cost_per_success_delta(prompt: Mapping[str, Any]) -> Decimal | None:
    """Return head minus base cost per success, or None unless both sides have one."""
    base = _cost_per_success(_side(prompt, "base"))
    head = _cost_per_success(_side(prompt, "head"))
    if base is None or head is None:
        return None
    return head - base


def _arrow(base: str | None, head: str | None) -> str:
    return f"{base if base is not None else '—'} → {head if head is not None else '—'}"


# Document model: sections of fixed lines and droppable rows.


@dataclasses.dataclass
class _Section:
    """Lines of one part of the comment, whose rows may be dropped to fit a size limit.

    `drop_priority` orders sections for dropping. Lower goes first, and rows
    go from the end, so each table is sorted with its most important rows first.
    A section whose rows are all dropped disappears with its header and footer.
    """

    header: list[str]
    rows: list[str]
    footer: list[str] = dataclasses.field(default_factory=list)
    drop_priority: int | None = None
    kept_rows: int = -1

    def __post_init__(self) -> None:
        self.kept_rows = len(self.rows)

    def lines(self) -> list[str]:
        if self.rows and self.kept_rows == 0:
            return []
        return [*self.header, *self.rows[: self.kept_rows], *self.footer]


def _table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> tuple[list[str], list[str]]:
    header = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    body = ["| " + " | ".join(cells) + " |" for cells in rows]
    return header, body


def _verdict_section(document: Mapping[str, Any]) -> _Section:
    status = str(document["status"])
    monthly_delta = _money(document["totals"]["monthly_cost_delta"])
    parts = [f"### {STATUS_ICONS.get(status, '')} promptguard: {status}"]
    parts.append(f"monthly cost {_money_text(monthly_delta, signed=True, cents=True)}")

    # The verdict shows the largest change in cost per success, because a sum
    # over unrelated prompts has no meaning.
    success_deltas = [
        (delta, str(prompt["path"]))
        for prompt in document["prompts"]
        if (delta := _cost_per_success_delta(prompt)) is not None and delta != 0
    ]
    if success_deltas:
        delta, path = max(success_deltas, key=lambda item: abs(item[0]))
        parts.append(f"cost per success {_money_text(delta, signed=True)} ({_cell(path)})")

    return _Section(header=[" · ".join(parts), ""], rows=[])


def _token_cell(prompt: Mapping[str, Any], side: Mapping[str, Any] | None) -> str | None:
    if side is None:
        return None
    approximate = "~" if prompt.get("token_count_method") == "estimated" else ""
    return approximate + format_tokens(int(side["input_tokens"]))


def _change_cell(prompt: Mapping[str, Any]) -> str:
    change = str(prompt["change"])
    if change == "renamed" and prompt.get("previous_path"):
        return f"renamed from {_cell(str(prompt['previous_path']))}"
    return change


def _changed_prompts_section(prompts: Sequence[Mapping[str, Any]]) -> _Section:
    with_success = any(_cost_per_success_delta(prompt) is not None for prompt in prompts)
    columns = ["Prompt", "Change", "Input tokens", "Δ %", "Cost / request", "Monthly Δ"]
    if with_success:
        columns.insert(5, "Cost / success")

    ordered = sorted(prompts, key=lambda prompt: (-abs(_monthly_delta(prompt)), str(prompt["path"])))
    rows = []
    for prompt in ordered:
        base = _side(prompt, "base")
        head = _side(prompt, "head")
        cells = [
            _cell(str(prompt["path"])),
            _change_cell(prompt),
            _arrow(_token_cell(prompt, base), _token_cell(prompt, head)),
            format_percent_change(_input_tokens(base), _input_tokens(head)) if base and head else "—",
            _arrow(
                _money_text(_money(base["cost_per_request"])) if base else None,
                _money_text(_money(head["cost_per_request"])) if head else None,
            ),
            _money_text(_monthly_delta(prompt), signed=True, cents=True),
        ]
        if with_success:
            base_success = _cost_per_success(base)
            head_success = _cost_per_success(head)
            cells.insert(
                5,
                _arrow(
                    _money_text(base_success) if base_success is not None else None,
                    _money_text(head_success) if head_success is not None else None,
                ),
            )
        rows.append(cells)

    header, body = _table(columns, rows)
    return _Section(
        header=[f"**Changed prompts ({len(prompts)})**", "", *header],
        rows=body,
        footer=[""],
        drop_priority=4,
    )


def _figure(budget: str, value: Any) -> str:
    """Format a budget's limit or actual figure with its unit; keep text that is not a number."""
    try:
        return format_figure(budget, Decimal(str(value)))
    except ArithmeticError:
        return str(value)


def _budgets_section(budgets: Sequence[Mapping[str, Any]], *, failing: bool) -> _Section:
    level_order = {"fail": 0, "warn": 1, "pass": 2}
    ordered = sorted(
        budgets,
        key=lambda result: (level_order.get(str(result["level"]), 3), str(result["budget"])),
    )
    rows = [
        [
            f"{STATUS_ICONS.get(str(result['level']), '')} {result['level']}",
            _cell(str(result["budget"])),
            _cell(str(result["prompt"])) if result.get("prompt") is not None else "all prompts",
            _cell(_figure(str(result["budget"]), result["limit"])),
            _cell(_figure(str(result["budget"]), result["actual"])),
            _cell(str(result["message"])),
        ]
        for result in ordered
    ]
    header, body = _table(["Result", "Budget", "Prompt", "Limit", "Actual", "Message"], rows)
    title = "**Budgets over their limits**" if failing else "**Budgets within their limits**"
    return _Section(header=[title, "", *header], rows=body, footer=[""], drop_priority=5 if failing else 3)


def _totals_section(document: Mapping[str, Any]) -> _Section:
    totals = document["totals"]
    base_tokens = int(totals["base"]["input_tokens"])
    head_tokens = int(totals["head"]["input_tokens"])
    base_cost = _money(totals["base"]["monthly_cost"])
    head_cost = _money(totals["head"]["monthly_cost"])
    header, body = _table(
        ["Total", "Base", "Head", "Δ"],
        [
            [
                "Input tokens",
                format_tokens(base_tokens),
                format_tokens(head_tokens),
                format_tokens(head_tokens - base_tokens, signed=True),
            ],
            [
                "Monthly cost",
                _money_text(base_cost, cents=True),
                _money_text(head_cost, cents=True),
                _money_text(_money(totals["monthly_cost_delta"]), signed=True, cents=True),
            ],
        ],
    )
    return _Section(header=["**Totals**", "", *header, *body, *_scope_lines(document), ""], rows=[])


def _scope_lines(document: Mapping[str, Any]) -> list[str]:
    """Return the note under the totals of a `--changed-only` check."""
    scope = document.get("scope")
    if scope is None:
        return []
    if scope["every_prompt_reason"] is not None:
        return ["", f"Every prompt was counted: {_cell(str(scope['every_prompt_reason']))}."]
    left_out = int(scope["unchanged_left_out"])
    if not left_out:
        return []
    noun = "prompt is" if left_out == 1 else "prompts are"
    return ["", f"{left_out:,} unchanged {noun} left out of this report and its totals (`--changed-only`)."]


def _folded_section(summary: str, table_header: list[str], rows: list[str], *, drop_priority: int) -> _Section:
    """Wrap a table in `<details>`, folded by default; `summary` must not need escaping."""
    return _Section(
        header=["<details>", f"<summary>{summary}</summary>", "", *table_header],
        rows=rows,
        footer=["", "</details>", ""],
        drop_priority=drop_priority,
    )


def _unchanged_section(prompts: Sequence[Mapping[str, Any]]) -> _Section:
    ordered = sorted(prompts, key=lambda prompt: str(prompt["path"]))
    rows = []
    for prompt in ordered:
        side = _side(prompt, "head") or _side(prompt, "base")
        rows.append(
            [
                _cell(str(prompt["path"])),
                _cell(str(prompt["model"])),
                _token_cell(prompt, side) or "—",
                _money_text(_money(side["cost_per_request"])) if side else "—",
                _money_text(_monthly_cost(side), cents=True),
            ]
        )
    header, body = _table(["Prompt", "Model", "Input tokens", "Cost / request", "Monthly cost"], rows)
    return _folded_section(f"Unchanged prompts ({len(prompts)})", header, body, drop_priority=1)


def describe_hunk(hunk: Mapping[str, Any]) -> str:
    """Describe a hunk's token delta and lines, for example "+82 tokens: lines 12-18".

    Line numbers are 1-based and inclusive. They are the head file's, or the
    base file's for a hunk that only deletes lines (head_end < head_start).
    """
    tokens = format_tokens(int(hunk["token_delta"]), signed=True)
    return f"{tokens} tokens: {changed_lines(hunk)}"


def _hunks_section(prompts: Sequence[Mapping[str, Any]]) -> _Section:
    entries = [(prompt, hunk) for prompt in prompts for hunk in prompt.get("hunks") or []]
    entries.sort(key=lambda entry: (-abs(int(entry[1]["token_delta"])), str(entry[0]["path"])))
    header, body = _table(
        ["Prompt", "Token delta"],
        ([_cell(str(prompt["path"])), describe_hunk(hunk)] for prompt, hunk in entries),
    )
    return _folded_section(f"Token deltas by hunk ({len(entries)})", header, body, drop_priority=0)


def _percent(value: Any) -> str:
    return "—" if value is None else f"{Decimal(str(value)) * 100:.1f}%"


def _rate_cell(side: Mapping[str, Any] | None) -> str:
    if not side or "fixtures_read" not in side or not side["fixtures_read"]:
        return "—"
    low, high = side["failure_rate_interval"]
    return f"{_percent(side['failure_rate'])} ({_percent(low)} to {_percent(high)})"


def _success_cell(side: Mapping[str, Any] | None) -> str:
    cost = _cost_per_success(side)
    return _money_text(cost) if cost is not None else "—"


def _replay_section(prompts: Sequence[Mapping[str, Any]]) -> _Section:
    """Failure rate with its 95 % interval, attempts and cost per success, and the main failure reasons."""
    rows = []
    for prompt in prompts:
        base, head = _side(prompt, "base"), _side(prompt, "head")
        if not any(side and "attempts_per_success" in side for side in (base, head)):
            continue
        reasons = (head or base or {}).get("failure_reasons") or []
        read = (head or base or {}).get("fixtures_read", 0)
        reason_text = "; ".join(
            f"{_cell(str(reason['reason']))}: {int(reason['count'])} of {int(read)}" for reason in reasons[:3]
        )
        attempts = [
            f"{Decimal(str(side['attempts_per_success'])):.2f}" if side and "attempts_per_success" in side else None
            for side in (base, head)
        ]
        rows.append(
            [
                _cell(str(prompt["path"])),
                _arrow(_rate_cell(base) if base else None, _rate_cell(head) if head else None),
                _arrow(attempts[0], attempts[1]),
                _arrow(_success_cell(base) if base else None, _success_cell(head) if head else None),
                reason_text or "—",
            ]
        )
    header, body = _table(
        ["Prompt", "Failure rate (95% interval)", "Attempts / success", "Cost / success", "Main failure reasons"],
        rows,
    )
    title = "**Recorded responses** (base → head)"
    return _Section(header=[title, "", *header], rows=body, footer=[""], drop_priority=4)


def _scenarios_section(prompts: Sequence[Mapping[str, Any]]) -> _Section:
    rows = []
    for prompt in prompts:
        base, head = _side(prompt, "base") or {}, _side(prompt, "head") or {}
        base_figures = {figures["name"]: figures for figures in base.get("scenarios", [])}
        for figures in head.get("scenarios", []):
            before = base_figures.get(figures["name"])
            rows.append(
                [
                    _cell(str(prompt["path"])),
                    _cell(str(figures["name"])),
                    _arrow(
                        _money_text(_money(before["monthly_cost"]), cents=True) if before else None,
                        _money_text(_money(figures["monthly_cost"]), cents=True),
                    ),
                    _money_text(_money(figures["cost_per_success"])) if figures["cost_per_success"] else "—",
                ]
            )
    if all(row[1] == "baseline" for row in rows):
        rows = []  # No scenario is configured; the baseline is already in the tables above.
    header, body = _table(["Prompt", "Scenario", "Monthly cost", "Cost / success"], rows)
    return _folded_section("Scenarios side by side with the baseline", header, body, drop_priority=1)


def _trend_section(prompts: Sequence[Mapping[str, Any]]) -> _Section:
    from promptguard.reports.history_formats import sparkline

    rows = []
    for prompt in prompts:
        points = prompt.get("trend") or []
        if len(points) < 2:
            continue
        tokens = [int(point["input_tokens"]) for point in points]
        rows.append(
            [
                _cell(str(prompt["path"])),
                sparkline(tokens),
                f"{format_tokens(tokens[0])} → {format_tokens(tokens[-1])} over the last {len(tokens)} versions",
            ]
        )
    header, body = _table(["Prompt", "Input tokens, oldest → newest", "Range"], rows)
    return _Section(header=["**Trend**", "", *header], rows=body, footer=[""], drop_priority=2)


def _warnings_section(warnings: Sequence[str]) -> _Section:
    rows = [f"- {_cell(str(warning))}" for warning in warnings]
    return _Section(header=["**Warnings**", ""], rows=rows, footer=[""], drop_priority=2)


def _revision_label(revision: Mapping[str, Any]) -> str:
    label = _cell(str(revision["ref"]))
    commit = revision.get("commit")
    return f"{label} ({_cell(str(commit)[:12])})" if commit else label


def _footer_section(document: Mapping[str, Any]) -> _Section:
    pricing = document["pricing"]
    line = (
        f"<sub>Base {_revision_label(document['base'])} → head {_revision_label(document['head'])}"
        f" · prices from {_cell(str(pricing['source']))} {_cell(str(pricing['version']))}"
        f" for {_cell(str(pricing['price_date']))}"
        f" · {_cell(str(document['tool']['name']))} {_cell(str(document['tool']['version']))}</sub>"
    )
    return _Section(header=[line], rows=[])


def _build_sections(document: Mapping[str, Any]) -> list[_Section]:
    prompts = document["prompts"]
    changed = [prompt for prompt in prompts if prompt["change"] != "unchanged"]
    unchanged = [prompt for prompt in prompts if prompt["change"] == "unchanged"]
    budgets = document["budgets"]
    over_limit = [result for result in budgets if result["level"] != "pass"]
    within_limit = [result for result in budgets if result["level"] == "pass"]

    sections = [_verdict_section(document)]
    if changed:
        sections.append(_changed_prompts_section(changed))
    else:
        sections.append(_Section(header=["No prompt changed.", ""], rows=[]))
    replay = _replay_section(changed or prompts)
    if replay.rows:
        sections.append(replay)
    trend = _trend_section(changed)
    if trend.rows:
        sections.append(trend)
    if over_limit:
        sections.append(_budgets_section(over_limit, failing=True))
    if within_limit:
        sections.append(_budgets_section(within_limit, failing=False))
    if not budgets:
        sections.append(_Section(header=["No budgets are configured.", ""], rows=[]))
    if document["warnings"]:
        sections.append(_warnings_section(document["warnings"]))
    sections.append(_totals_section(document))
    scenarios = _scenarios_section(prompts)
    if scenarios.rows:
        sections.append(scenarios)
    if unchanged:
        sections.append(_unchanged_section(unchanged))
    if any(prompt.get("hunks") for prompt in changed):
        sections.append(_hunks_section(changed))
    sections.append(_footer_section(document))
    return sections


def _length(lines: Sequence[str]) -> int:
    """Return the length of the lines joined by newlines, with a final newline."""
    return sum(len(line) + 1 for line in lines)


def _dropped_notice(dropped: int, full_report_hint: str | None) -> str:
    where = full_report_hint or "the output of `promptguard check`"
    count = "1 row was" if dropped == 1 else f"{dropped:,} rows were"
    return f"> [!NOTE]\n> {count} left out to fit GitHub's comment size limit. The full report is in {where}."


def _drop_rows(sections: list[_Section], max_chars: int, full_report_hint: str | None) -> int:
    """Drop rows, least important first, until the document fits; return the number dropped."""
    total_rows = sum(len(section.rows) for section in sections)
    # Reserve room for the notice with the largest count it could show.
    budget = max_chars - len(_dropped_notice(total_rows, full_report_hint)) - 2
    excess = sum(_length(section.lines()) for section in sections) - budget
    dropped = 0

    droppable = sorted(
        (section for section in sections if section.drop_priority is not None and section.rows),
        key=lambda section: section.drop_priority or 0,
    )
    for section in droppable:
        while excess > 0 and section.kept_rows > 0:
            section.kept_rows -= 1
            dropped += 1
            excess -= _length([section.rows[section.kept_rows]])
            if section.kept_rows == 0:
                excess -= _length(section.header) + _length(section.footer)
        if excess <= 0:
            break
    return dropped


def render_markdown(
    document: Mapping[str, Any],
    *,
    max_chars: int | None = None,
    full_report_hint: str | None = None,
) -> str:
    """Render a version 1 report document as GitHub-flavoured Markdown.

    With `max_chars`, table rows are dropped (folded details first, failing
    budgets last) until the text fits. A note then states how many rows were
    dropped and points to `full_report_hint`, which is trusted Markdown from
    the caller, such as a link to the workflow run. The result is at most `max_chars`
    characters long; if even the fixed lines do not fit, it is cut off and
    may end inside Markdown syntax.
    """
    sections = _build_sections(document)
    text_fits = max_chars is None or _length([line for section in sections for line in section.lines()]) <= max_chars
    if text_fits:
        return "\n".join(line for section in sections for line in section.lines()) + "\n"

    assert max_chars is not None
    dropped = _drop_rows(sections, max_chars, full_report_hint)
    lines = [line for section in sections for line in section.lines()]
    notice = _dropped_notice(dropped, full_report_hint)
    # The notice goes before the footer line so readers see it next to the tables.
    text = "\n".join([*lines[:-1], notice, "", lines[-1]]) + "\n"
    if len(text) > max_chars:
        text = text[:max_chars]
    return text
