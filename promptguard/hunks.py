"""Changed hunks of a prompt template, each with its token delta, to show a reviewer which lines cost what."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hunk:
    """A changed block of template lines (1-based, inclusive; an empty side has end = start - 1)."""

    base_start: int
    base_end: int
    head_start: int
    head_end: int
    token_delta: int


def changed_lines(hunk: Mapping[str, Any]) -> str:
    """Name a hunk's lines as "lines 12-18": the head file's, or the base file's with "(removed)".

    `hunk` is a hunk of the JSON report, with 1-based inclusive line numbers.
    """
    start, end = int(hunk["head_start"]), int(hunk["head_end"])
    suffix = ""
    if end < start:
        start, end = int(hunk["base_start"]), int(hunk["base_end"])
        suffix = " (removed)"
    lines = f"line {start}" if start == end else f"lines {start}-{end}"
    return f"{lines}{suffix}"


def diff_hunks(base_text: str, head_text: str, count_texts: Callable[[Sequence[str]], list[int]]) -> list[Hunk]:
    """Return the changed hunks between two template texts with the token delta of each.

    A hunk's delta counts the template text of its lines on each side, before
    rendering, so hunk deltas need not add up to the rendered prompt's delta.
    """
    base_lines = base_text.splitlines(keepends=True)
    head_lines = head_text.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=base_lines, b=head_lines, autojunk=False)
    blocks = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    texts: list[str] = []
    for _, i1, i2, j1, j2 in blocks:
        texts.append("".join(base_lines[i1:i2]))
        texts.append("".join(head_lines[j1:j2]))
    counts = count_texts(texts)
    hunks = []
    for index, (_, i1, i2, j1, j2) in enumerate(blocks):
        delta = counts[2 * index + 1] - counts[2 * index]
        hunks.append(Hunk(i1 + 1, i2, j1 + 1, j2, delta))
    return hunks
