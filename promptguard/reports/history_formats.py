"""Output formats of `promptguard history`: text, Markdown with Mermaid charts, JSON and CSV.

Every format renders the JSON document from `build_history_document`, so the
four agree on every figure.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from promptguard.history import BAND_WINDOW, HistoryResult, PromptHistory
from promptguard.report import money
from promptguard.reports.markdown import escape_markdown

HISTORY_VERSION = 1
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60
CSV_COLUMNS = (
    "prompt",
    "commit",
    "date",
    "author",
    "subject",
    "path",
    "input_tokens",
    "cost_per_request",
)
# Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MERMAID_UNSAFE = re.compile(r"[\x00-\x1f\x7f`\"\\]")


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.01")))


def _prompt_document(prompt: PromptHistory) -> dict[str, Any]:
    return {
        "path": prompt.path,
        "model": prompt.model,
        "encoding": prompt.encoding,
        "token_count_method": prompt.token_count_method,
        "points": [
            {
                "commit": point.commit,
                "date": point.date,
                "author": point.author,
                "subject": point.subject,
                "path": point.path,
                "input_tokens": point.input_tokens,
                "cost_per_request": money(point.cost_per_request),
            }
            for point in prompt.points
        ],
        "largest_jumps": [
            {
                "commit": jump.commit,
                "date": jump.date,
                "subject": jump.subject,
                "previous_input_tokens": jump.previous_input_tokens,
                "input_tokens": jump.input_tokens,
                "delta": jump.delta,
                "delta_pct": _pct(jump.delta_pct),
                "cost_per_request_delta": money(jump.cost_delta),
            }
            for jump in prompt.largest_jumps
        ],
        "growth_pct": _pct(prompt.growth_pct),
        "volatility": {
            "window": BAND_WINDOW,
            "flagged": [
                {
                    "commit": flag.commit,
                    "date": flag.date,
                    "input_tokens": flag.input_tokens,
                    "median": float(flag.median),
                    "low": float(flag.low.quantize(Decimal("0.1"))),
                    "high": float(flag.high.quantize(Decimal("0.1"))),
                }
                for flag in prompt.flagged
            ],
        },
    }


def build_history_document(result: HistoryResult) -> dict[str, Any]:
    """Return the history as the versioned JSON document every format renders from."""
    return {
        "version": HISTORY_VERSION,
        "head": {"ref": result.head.label, "commit": result.head.commit},
        "since": result.since,
        "prompts": [_prompt_document(prompt) for prompt in result.prompts],
        "warnings": list(result.warnings),
    }


def render_history_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _spreadsheet_safe(text: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula (OWASP CSV injection advice)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_history_csv(document: Mapping[str, Any]) -> str:
    """Render one row per point; author, subject and path are made safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for prompt in document["prompts"]:
        for point in prompt["points"]:
            writer.writerow(
                [
                    _spreadsheet_safe(prompt["path"]),
                    point["commit"],
                    point["date"],
                    _spreadsheet_safe(point["author"]),
                    _spreadsheet_safe(point["subject"]),
                    _spreadsheet_safe(point["path"]),
                    point["input_tokens"],
                    point["cost_per_request"],
                ]
            )
    return buffer.getvalue()


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """Draw values as block characters, scaled from their minimum to their maximum.

    A longer series is cut into `width` consecutive buckets, each drawn with
    its last value, so the line ends at the latest figure.
    """
    if not values:
        return ""
    if len(values) > width:
        values = [values[((index + 1) * len(values)) // width - 1] for index in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return SPARK_LEVELS[len(SPARK_LEVELS) // 2 - 1] * len(values)
    top = len(SPARK_LEVELS) - 1
    return "".join(SPARK_LEVELS[round((value - low) * top / (high - low))] for value in values)


def _signed(value: int) -> str:
    return f"{value:+,}"


def _pct_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _text_prompt(prompt: Mapping[str, Any]) -> list[str]:
    points = prompt["points"]
    method = "" if prompt["token_count_method"] == "exact" else ", estimated"
    lines = [f"{prompt['path']}  ({prompt['model']}, {prompt['encoding']}{method})"]
    if not points:
        lines.append("  no version in the period")
        return lines
    tokens = [point["input_tokens"] for point in points]
    first, last = points[0], points[-1]
    lines.append(f"  {sparkline(tokens)}")
    lines.append(
        f"  {_versions(len(points))}, {first['date'][:10]} to {last['date'][:10]}: "
        f"{first['input_tokens']:,} -> {last['input_tokens']:,} input tokens "
        f"({_pct_text(prompt['growth_pct'])}), ${first['cost_per_request']} -> "
        f"${last['cost_per_request']} per request"
    )
    for jump in prompt["largest_jumps"]:
        lines.append(
            f"  jump {_signed(jump['delta'])} tokens ({_pct_text(jump['delta_pct'])}) at "
            f"{jump['commit'][:12]} {jump['date'][:10]} {jump['subject']}"
        )
    for flag in prompt["volatility"]["flagged"]:
        lines.append(
            f"  outside band at {flag['commit'][:12]} {flag['date'][:10]}: "
            f"{flag['input_tokens']:,} tokens, "
            f"expected {flag['low']:,.0f} to {flag['high']:,.0f}"
        )
    return lines


def render_history_text(document: Mapping[str, Any]) -> str:
    """Render plain text: per prompt a sparkline, growth, largest jumps and flagged versions."""
    head = document["head"]
    since = f" since {document['since']}" if document["since"] else ""
    lines = [f"Prompt history up to {head['ref']} ({head['commit'][:12]}){since}", ""]
    if not document["prompts"]:
        lines.append("No prompts found.")
    for prompt in document["prompts"]:
        lines.extend(_text_prompt(prompt))
        lines.append("")
    for warning in document["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines).rstrip("\n") + "\n"


def mermaid_string(text: str) -> str:
    """Return text safe inside a double-quoted Mermaid string within a Markdown code fence.

    Quotes become Mermaid's `#quot;` entity; backticks, backslashes and control
    characters become spaces, so no line break or fence can end the chart early.
    """
    return _MERMAID_UNSAFE.sub(lambda match: "#quot;" if match.group() == '"' else " ", text)


def _mermaid_chart(prompt: Mapping[str, Any]) -> list[str]:
    points = prompt["points"]
    labels = ", ".join(f'"{point["commit"][:7]}"' for point in points)
    values = ", ".join(str(point["input_tokens"]) for point in points)
    top = max(point["input_tokens"] for point in points)
    return [
        "```mermaid",
        "xychart-beta",
        f'    title "{mermaid_string(prompt["path"])}"',
        f"    x-axis [{labels}]",
        f'    y-axis "Input tokens" 0 --> {max(top, 1)}',
        f"    line [{values}]",
        "```",
    ]


def _markdown_prompt(prompt: Mapping[str, Any]) -> list[str]:
    lines = [f"### {escape_markdown(prompt['path'])}", ""]
    points = prompt["points"]
    if not points:
        return [*lines, "No version in the period.", ""]
    first, last = points[0], points[-1]
    lines.append(
        f"{_versions(len(points))} from {first['date'][:10]} to {last['date'][:10]}: "
        f"{first['input_tokens']:,} → {last['input_tokens']:,} input tokens "
        f"({_pct_text(prompt['growth_pct'])}), ${first['cost_per_request']} → "
        f"${last['cost_per_request']} per request ({escape_markdown(prompt['model'])})."
    )
    lines.append("")
    lines.extend(_mermaid_chart(prompt))
    lines.append("")
    if prompt["largest_jumps"]:
        lines += ["| Commit | Date | Δ input tokens | Subject |", "|---|---|--:|---|"]
        for jump in prompt["largest_jumps"]:
            lines.append(
                f"| `{jump['commit'][:12]}` | {jump['date'][:10]} | {_signed(jump['delta'])} "
                f"({_pct_text(jump['delta_pct'])}) | {escape_markdown(jump['subject'])} |"
            )
        lines.append("")
    flagged = prompt["volatility"]["flagged"]
    if flagged:
        commits = ", ".join(f"`{flag['commit'][:12]}`" for flag in flagged)
        lines += [
            f"Outside the volatility band of the previous {BAND_WINDOW} versions: {commits}.",
            "",
        ]
    return lines


def render_history_markdown(document: Mapping[str, Any]) -> str:
    """Render Markdown with a Mermaid `xychart-beta` line chart per prompt."""
    head = document["head"]
    since = f" since {escape_markdown(document['since'])}" if document["since"] else ""
    lines = [f"## Prompt history up to `{head['commit'][:12]}`{since}", ""]
    if not document["prompts"]:
        lines += ["No prompts found.", ""]
    for prompt in document["prompts"]:
        lines.extend(_markdown_prompt(prompt))
    for warning in document["warnings"]:
        lines.append(f"> warning: {escape_markdown(warning)}")
    return "\n".join(lines).rstrip("\n") + "\n"


RENDERERS = {
    "text": render_history_text,
    "markdown": render_history_markdown,
    "json": render_history_json,
    "csv": render_history_csv,
}


def render_history(result: HistoryResult, output_format: str) -> str:
    """Render a HistoryResult in one of the formats of RENDERERS."""
    return RENDERERS[output_format](build_history_document(result))


def _versions(count: int) -> str:
    return "1 version" if count == 1 else f"{count:,} versions"
