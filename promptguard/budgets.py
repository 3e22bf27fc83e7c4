"""Budgets: pure functions that compare figures with configured limits.

A budget fails when the actual figure is strictly greater than its `fail`
limit and warns when it is strictly greater than its `warn` limit, so a figure
exactly at the limit passes. Figures are compared as `Decimal`, unrounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from promptguard.config import Limit

Level = Literal["pass", "warn", "fail"]

# Unit prefix and suffix of each budget's figures in messages.
UNITS: dict[str, tuple[str, str]] = {
    "max_input_tokens": ("", " tokens"),
    "max_input_tokens_increase_pct": ("", " %"),
    "max_cost_per_request": ("$", ""),
    "max_monthly_cost": ("$", ""),
    "max_monthly_cost_increase": ("$", ""),
    "max_failure_rate": ("", ""),
    "max_cost_per_success": ("$", ""),
    "max_cost_per_success_increase_pct": ("", " %"),
    "max_output_tokens_p95": ("", " tokens"),
    "max_input_tokens_growth_pct": ("", " %"),
    "max_monthly_cost_growth_pct": ("", " %"),
}


@dataclass(frozen=True)
class BudgetResult:
    """The outcome of one budget for one prompt (or the totals when prompt is None)."""

    budget: str
    prompt: str | None
    level: Level
    limit: Decimal
    actual: Decimal
    message: str
    scenario: str | None = None


def format_figure(budget: str, value: Decimal) -> str:
    """Format a figure with the budget's unit: money to 6 significant places, percentages to 0.1."""
    prefix, suffix = UNITS.get(budget, ("", ""))
    if budget == "max_failure_rate":
        return f"{(value * 100).quantize(Decimal('0.1'))}% of attempts"
    if prefix == "$":
        return f"${_money(value)}"
    if suffix == " %":
        return f"{value.quantize(Decimal('0.1')):,}%"
    if suffix == " tokens":
        return f"{value:,} tokens"
    return f"{value.normalize():f}"


def _money(value: Decimal) -> str:
    if abs(value) >= 1 or value == 0:
        return f"{value.quantize(Decimal('0.01')):,}"
    return f"{value.quantize(Decimal('0.000001')).normalize():f}"


def evaluate(
    budget: str, limit: Limit, actual: Decimal, prompt: str | None, scenario: str | None = None
) -> BudgetResult:
    """Compare one figure with a budget's fail and warn limits."""
    level: Level = "pass"
    bound = limit.fail if limit.fail is not None else limit.warn
    assert bound is not None, "the config schema requires fail or warn"
    if limit.fail is not None and actual > limit.fail:
        level, bound = "fail", limit.fail
    elif limit.warn is not None and actual > limit.warn:
        level, bound = "warn", limit.warn

    subject = prompt if prompt is not None else "total"
    where = f" in scenario {scenario}" if scenario else ""
    relation = "exceeds" if level != "pass" else "within"
    message = (
        f"{subject}: {budget} {format_figure(budget, actual)} {relation} "
        f"{level if level != 'pass' else 'limit'} {format_figure(budget, bound)}{where}"
    )
    return BudgetResult(budget, prompt, level, bound, actual, message, scenario)


def increase_pct(base: Decimal | int, head: Decimal | int) -> Decimal | None:
    """Return the percentage increase from base to head, or None when base is zero."""
    if base == 0:
        return None
    return (Decimal(head) - Decimal(base)) * 100 / Decimal(base)


def overall_level(results: Iterable[BudgetResult]) -> Level:
    """Return the worst level among results: fail over warn over pass."""
    levels = {result.level for result in results}
    if "fail" in levels:
        return "fail"
    if "warn" in levels:
        return "warn"
    return "pass"
