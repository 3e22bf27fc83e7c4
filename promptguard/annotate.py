"""GitHub Actions workflow commands, job summary and step outputs for a saved report.

Escaping follows GitHub's rules for workflow commands (as in @actions/core's
`command.ts`): in the message `%`, `\\r` and `\\n` become `%25`, `%0D` and
`%0A`, and property values also escape `:` and `,` as `%3A` and `%2C`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptguard.errors import OutputError
from promptguard.reports.markdown import render_markdown

logger = logging.getLogger(__name__)

# GitHub shows at most 10 error and 10 warning annotations per step; the rest
# are summed up in one notice, which has its own limit.
MAX_ANNOTATIONS_PER_LEVEL = 10

# GitHub's limit on the job summary each step may write.
STEP_SUMMARY_MAX_BYTES = 1024 * 1024

_COMMAND_FOR_LEVEL = {"fail": "error", "warn": "warning"}


def escape_data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value, such as `file` or `title`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, properties: Mapping[str, str | int]) -> str:
    """Format one workflow command, for example `::error file=a.j2,title=T::message`."""
    rendered = ",".join(f"{name}={escape_property(str(value))}" for name, value in properties.items())
    return f"::{command}{' ' + rendered if rendered else ''}::{escape_data(message)}"


def _first_changed_line(prompt: Mapping[str, Any] | None) -> int | None:
    """Return the first head line of the prompt's largest hunk, to point the annotation at it."""
    if not prompt:
        return None
    hunks = [hunk for hunk in prompt.get("hunks") or [] if hunk["head_end"] >= hunk["head_start"]]
    if not hunks:
        return None
    largest = max(hunks, key=lambda hunk: abs(int(hunk["token_delta"])))
    return int(largest["head_start"])


def _annotation(violation: Mapping[str, Any], prompts: Mapping[str, Mapping[str, Any]]) -> str:
    command = _COMMAND_FOR_LEVEL[str(violation["level"])]
    properties: dict[str, str | int] = {}
    path = violation.get("prompt")
    if path is not None:
        properties["file"] = str(path)
        line = _first_changed_line(prompts.get(str(path)))
        if line is not None:
            properties["line"] = line
    properties["title"] = f"promptguard budget {violation['budget']}"
    # The message already names both figures with their units.
    message = str(violation["message"])
    return workflow_command(command, message, properties)


def format_annotations(document: Mapping[str, Any], *, limit: int = MAX_ANNOTATIONS_PER_LEVEL) -> list[str]:
    """Return error and warning commands for the budgets that fail or warn.

    At most `limit` of each level are returned, failing budgets first. One
    notice then counts the ones left out, because GitHub would drop them.
    Budgets over the totals get annotations without a file.
    """
    prompts = {str(prompt["path"]): prompt for prompt in document["prompts"]}
    lines: list[str] = []
    left_out: dict[str, int] = {}
    for level in ("fail", "warn"):
        violations = [violation for violation in document["violations"] if violation["level"] == level]
        lines.extend(_annotation(violation, prompts) for violation in violations[:limit])
        if len(violations) > limit:
            left_out[_COMMAND_FOR_LEVEL[level]] = len(violations) - limit

    if left_out:
        counts = " and ".join(
            f"{count} more budget {command}{'s' if count > 1 else ''}" for command, count in left_out.items()
        )
        lines.append(workflow_command("notice", f"{counts} are in the job summary", {"title": "promptguard"}))
    return lines


def append_step_summary(path: Path, document: Mapping[str, Any], full_report_hint: str | None) -> None:
    """Append the Markdown report to the job summary file, within GitHub's size limit."""
    max_chars = STEP_SUMMARY_MAX_BYTES
    markdown = render_markdown(document, max_chars=max_chars, full_report_hint=full_report_hint)
    # The limit is in bytes and the renderer counts characters, so shrink
    # until the UTF-8 text fits.
    while len(markdown.encode("utf-8")) > STEP_SUMMARY_MAX_BYTES:
        max_chars = max_chars * 3 // 4
        markdown = render_markdown(document, max_chars=max_chars, full_report_hint=full_report_hint)
    _append(path, markdown + "\n", "GITHUB_STEP_SUMMARY")


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    """Append step outputs to the GITHUB_OUTPUT file, with a heredoc for multi-line values."""
    entries = []
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            entries.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            entries.append(f"{name}={value}\n")
    _append(path, "".join(entries), "GITHUB_OUTPUT")


def _append(path: Path, text: str, variable: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise OutputError(
            f"cannot append to {variable} file {str(path)!r}: {error.strerror}",
            fix=f"unset {variable} outside GitHub Actions",
        ) from error


def report_outputs(document: Mapping[str, Any], report_path: Path) -> dict[str, str]:
    """Return the step outputs: status, report-path and monthly-cost-delta."""
    return {
        "status": str(document["status"]),
        "report-path": str(report_path),
        "monthly-cost-delta": str(document["totals"]["monthly_cost_delta"]),
    }
