"""Terminal report: changed prompts first, then budget results, then totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from promptguard.hunks import changed_lines

MAX_HUNKS_SHOWN = 3
ARROW = "->"


def _money(text: str | None) -> str:
    """Format dollars: cents from $1 up, else up to six decimal places (at least two)."""
    if text is None:
        return "-"
    value = Decimal(text)
    if abs(value) >= 1 or value == 0:
        return f"${value.quantize(Decimal('0.01')):,}"
    digits = f"{value.quantize(Decimal('0.000001')).normalize():f}"
    whole, _, fraction = digits.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def _signed_money(value: Decimal) -> str:
    if value > 0:
        return "+" + _money(str(value))
    if value < 0:
        return "-" + _money(str(-value))
    return _money(str(value))


def _delta_pct(base: int | None, head: int | None) -> str:
    if head is None:
        return "gone"
    if base is None:
        return "new"
    if base == 0:
        return "-"
    pct = (Decimal(head) - Decimal(base)) * 100 / Decimal(base)
    return f"{pct.quantize(Decimal('0.1')):+}%"


def _tokens(side: Mapping[str, Any] | None) -> str:
    return f"{side['input_tokens']:,}" if side else "-"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        cells[1] = row[1].ljust(widths[1])
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def prompt_row(prompt: Mapping[str, Any]) -> list[str]:
    """Return the table cells of one prompt."""
    base, head = prompt["base"], prompt["head"]
    path = prompt["path"]
    if prompt["previous_path"]:
        path = f"{prompt['previous_path']} {ARROW} {path}"
    estimated = "~" if prompt["token_count_method"] == "estimated" else ""
    head_monthly = Decimal(head["monthly_cost"]) if head else Decimal(0)
    base_monthly = Decimal(base["monthly_cost"]) if base else Decimal(0)
    monthly_delta = head_monthly - base_monthly
    return [
        path,
        prompt["change"],
        f"{estimated}{_tokens(base)} {ARROW} {estimated}{_tokens(head)}",
        _delta_pct(base["input_tokens"] if base else None, head["input_tokens"] if head else None),
        _money((head or base)["cost_per_request"]),
        _signed_money(monthly_delta),
    ]


def describe_hunk(hunk: Mapping[str, Any]) -> str:
    """Summarize a hunk as '+82 tokens: lines 12-18'."""
    return f"{hunk['token_delta']:+,} tokens: {changed_lines(hunk)}"


def render_text(document: Mapping[str, Any]) -> str:
    """Render the report document for a terminal."""
    lines: list[str] = []
    base, head = document["base"], document["head"]
    base_commit = f" ({base['commit'][:12]})" if base.get("commit") else ""
    head_commit = f" ({head['commit'][:12]})" if head.get("commit") else ""
    lines.append(f"promptguard: {base['ref']}{base_commit} {ARROW} {head['ref']}{head_commit}")
    pricing = document["pricing"]
    lines.append(f"prices: {pricing['source']} {pricing['version']}, as of {pricing['price_date']}")
    lines.append("")

    prompts = document["prompts"]
    changed = sorted(
        (p for p in prompts if p["change"] != "unchanged"),
        key=lambda p: -abs((p["head"] or {}).get("input_tokens", 0) - (p["base"] or {}).get("input_tokens", 0)),
    )
    unchanged = len(prompts) - len(changed)
    header = ["prompt", "change", "input tokens", "delta", "cost/request", "monthly delta"]
    if changed:
        lines.extend(_table([header, *(prompt_row(p) for p in changed)]))
    else:
        lines.append("no prompt changed")
    if unchanged:
        lines.append(f"({unchanged} unchanged prompt{'s' if unchanged != 1 else ''} counted in the totals)")
    lines.extend(_scope_lines(document))
    if any(p["token_count_method"] == "estimated" for p in prompts):
        lines.append("~ estimated: no public tokenizer for this model")

    hunk_lines = []
    for prompt in changed:
        hunks = sorted(prompt["hunks"], key=lambda h: -abs(h["token_delta"]))
        if not hunks:
            continue
        hunk_lines.append(f"  {prompt['path']}")
        hunk_lines.extend(f"    {describe_hunk(h)}" for h in hunks[:MAX_HUNKS_SHOWN])
        if len(hunks) > MAX_HUNKS_SHOWN:
            hunk_lines.append(f"    ... {len(hunks) - MAX_HUNKS_SHOWN} smaller hunks (see --format json)")
    if hunk_lines:
        lines.extend(["", "largest changes (template tokens):", *hunk_lines])

    replay_lines = _replay_lines(prompts)
    if replay_lines:
        lines.extend(["", "recorded responses (fixtures), base -> head:", *replay_lines])

    lines.append("")
    lines.append("budgets:")
    if document["budgets"]:
        worst_first = sorted(document["budgets"], key=lambda result: result["level"] != "fail")
        for result in worst_first:
            if result["level"] != "pass":
                lines.append(f"  {result['level'].upper():4}  {result['message']}")
        passed = sum(1 for r in document["budgets"] if r["level"] == "pass")
        if passed:
            lines.append(f"  PASS  {passed} budget check{'s' if passed != 1 else ''} within limits")
    else:
        lines.append("  none configured")

    totals = document["totals"]
    lines.append("")
    lines.append(
        f"totals: input tokens {totals['base']['input_tokens']:,} {ARROW} {totals['head']['input_tokens']:,}; "
        f"monthly cost {_money(totals['base']['monthly_cost'])} {ARROW} {_money(totals['head']['monthly_cost'])} "
        f"({_signed_money(Decimal(totals['monthly_cost_delta']))})"
    )
    for warning in document["warnings"]:
        lines.append(f"warning: {warning}")
    lines.append(f"status: {document['status']}")
    return "\n".join(lines) + "\n"


def _scope_lines(document: Mapping[str, Any]) -> list[str]:
    """Return the line about which prompts a `--changed-only` check counted."""
    scope = document.get("scope")
    if scope is None:
        return []
    if scope["every_prompt_reason"] is not None:
        return [f"(--changed-only: every prompt counted, because {scope['every_prompt_reason']})"]
    left_out = int(scope["unchanged_left_out"])
    if not left_out:
        return []
    noun = "prompt" if left_out == 1 else "prompts"
    return [f"({left_out:,} unchanged {noun} left out by --changed-only, so not counted in the totals)"]


def _percent(text: str | None) -> str:
    return "-" if text is None else f"{Decimal(text) * 100:.1f}%"


def _replay_lines(prompts: Sequence[Mapping[str, Any]]) -> list[str]:
    """Summarize fixture replay: failure rate with its 95 % interval, attempts and cost per success."""
    lines: list[str] = []
    for prompt in prompts:
        base, head = prompt["base"] or {}, prompt["head"] or {}
        if "fixtures_read" not in base and "fixtures_read" not in head:
            continue
        if prompt["change"] == "unchanged" and head.get("fixtures_read"):
            lines.append(
                f"  {prompt['path']} (unchanged): failure rate {_percent(head['failure_rate'])}, "
                f"cost per success {_money(head['cost_per_success'])}"
            )
            continue
        lines.append(f"  {prompt['path']}")

        def side(figures: Mapping[str, Any], key: str) -> str:
            if "fixtures_read" not in figures:
                return "-"
            if key == "failure_rate":
                low, high = figures["failure_rate_interval"]
                return f"{_percent(figures['failure_rate'])} [{_percent(low)}-{_percent(high)}]"
            if key == "cost_per_success":
                return _money(figures["cost_per_success"])
            return f"{Decimal(figures[key]):.2f}"

        for label, key in (
            ("failure rate (95% interval)", "failure_rate"),
            ("attempts per success", "attempts_per_success"),
            ("cost per success", "cost_per_success"),
        ):
            lines.append(f"    {label}: {side(base, key)} {ARROW} {side(head, key)}")
        read = head.get("fixtures_read", base.get("fixtures_read", 0))
        skipped = head.get("fixtures_skipped", base.get("fixtures_skipped", 0))
        lines.append(f"    fixtures: {read} read, {skipped} skipped")
        for reason in head.get("failure_reasons", [])[:3]:
            lines.append(f"    {reason['reason']}: {reason['count']} of {read} outputs")
        if head.get("fallback_model"):
            lines.append(
                f"    fallback: {head['fallback_model']} takes the requests that fail after "
                f"retries (its failure rate {_percent(head['fallback_failure_rate'])})"
            )
        base_scenarios = {figures["name"]: figures for figures in base.get("scenarios", [])}
        for figures in head.get("scenarios", [])[1:]:
            before = base_scenarios.get(figures["name"])
            before_cost = _money(before["monthly_cost"]) if before else "-"
            head_cost = _money(figures["monthly_cost"])
            lines.append(
                f"    scenario {figures['name']}: monthly cost {before_cost} {ARROW} {head_cost}, "
                f"cost per success {_money(figures['cost_per_success'])}"
            )
    return lines
