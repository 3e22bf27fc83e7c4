"""The report document: a `CheckResult` as the versioned JSON structure every format renders from.

The Markdown and text reports, and `promptguard comment`, all render this
document, so a report saved as JSON renders the same as a live check.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from importlib import resources
from typing import TYPE_CHECKING, Any

from promptguard import __version__
from promptguard.budgets import BudgetResult
from promptguard.check import CheckResult, PromptResult, PromptSide
from promptguard.revisions import Revision

if TYPE_CHECKING:
    from promptguard.trend import TrendPoint

REPORT_VERSION = 1


def money(value: Decimal) -> str:
    """Format US dollars as a plain decimal string (no exponent)."""
    return f"{value.normalize():f}" if value != 0 else "0"


def _revision(revision: Revision) -> dict[str, Any]:
    return {"ref": revision.label, "commit": revision.commit}


def _side(side: PromptSide | None) -> dict[str, Any] | None:
    if side is None:
        return None
    document: dict[str, Any] = {
        "input_tokens": side.input_tokens,
        "output_tokens": side.output_tokens,
        "cost_per_request": money(side.cost_per_request),
        "monthly_cost": money(side.monthly_cost),
        "requests_per_month": side.requests_per_month,
        "messages": side.messages,
    }
    success = side.success
    if success is not None:
        document.update(
            {
                "failure_rate": _number(success.failure_rate),
                "failure_rate_interval": [_number(success.failure_rate_low), _number(success.failure_rate_high)],
                "attempts_per_success": _number(success.attempts_per_success),
                "cost_per_success": money(success.cost_per_success) if success.cost_per_success is not None else None,
                "spend_per_request": money(success.spend_per_request),
                "additional_calls_per_month": _number(success.additional_calls_per_month),
                "fixtures_read": success.fixtures_read,
                "fixtures_skipped": success.fixtures_skipped,
                "input_tokens_distribution": {
                    "mean": _number(success.input_tokens_mean) if success.input_tokens_mean is not None else None,
                    "p50": success.input_tokens_p50,
                    "p95": success.input_tokens_p95,
                },
                "output_tokens_distribution": {
                    "mean": _number(success.output_tokens_mean) if success.output_tokens_mean is not None else None,
                    "p50": success.output_tokens_p50,
                    "p95": success.output_tokens_p95,
                },
                "output_tokens_p95": success.output_tokens_p95,
                "output_tokens_counted": success.output_tokens_counted,
                "failure_reasons": [{"reason": reason, "count": count} for reason, count in success.failure_reasons],
                "skipped_records": list(success.skipped_locations),
                "fallback_model": success.fallback_model,
                "fallback_failure_rate": (
                    _number(success.fallback_failure_rate) if success.fallback_failure_rate is not None else None
                ),
                "routes": [
                    {
                        "model": route.model,
                        "weight": _number(route.weight),
                        "failure_rate": _number(route.failure_rate),
                        "failure_rate_source": route.failure_rate_source,
                        "cost_per_attempt": money(route.cost_per_attempt),
                        "spend_per_request": money(route.spend_per_request),
                    }
                    for route in success.routes
                ],
                "scenarios": [
                    {
                        "name": figures.name,
                        "requests_per_month": _number(figures.requests_per_month),
                        "monthly_cost": money(figures.monthly_cost),
                        "cost_per_success": (
                            money(figures.cost_per_success) if figures.cost_per_success is not None else None
                        ),
                        "additional_calls_per_month": _number(figures.additional_calls_per_month),
                        "success_probability": _number(figures.success_probability),
                    }
                    for figures in success.scenarios
                ],
            }
        )
    return document


def _number(value: Decimal) -> str:
    """Format a ratio or count to 6 decimal places, without trailing zeros."""
    return f"{value.quantize(Decimal('0.000001')).normalize():f}"


def _prompt(result: PromptResult) -> dict[str, Any]:
    return {
        "path": result.path,
        "previous_path": result.previous_path,
        "change": result.change,
        "model": result.model,
        "encoding": result.encoding,
        "token_count_method": result.token_count_method,
        "base": _side(result.base),
        "head": _side(result.head),
        "hunks": [
            {
                "base_start": hunk.base_start,
                "base_end": hunk.base_end,
                "head_start": hunk.head_start,
                "head_end": hunk.head_end,
                "token_delta": hunk.token_delta,
            }
            for hunk in result.hunks
        ],
    }


def _budget(result: BudgetResult) -> dict[str, Any]:
    return {
        "budget": result.budget,
        "prompt": result.prompt,
        "scenario": result.scenario,
        "level": result.level,
        "limit": f"{result.limit.normalize():f}",
        "actual": f"{result.actual.normalize():f}",
        "message": result.message,
    }


def build_document(result: CheckResult, trends: Mapping[str, Sequence[TrendPoint]] | None = None) -> dict[str, Any]:
    """Return the JSON-ready report document (version 1) of a check.

    `trends` adds each changed prompt's recent committed versions as `trend`.
    """
    document = _document(result)
    for prompt in document["prompts"]:
        points = (trends or {}).get(prompt["path"])
        if points:
            prompt["trend"] = [
                {"commit": point.commit, "date": point.date, "input_tokens": point.input_tokens} for point in points
            ]
    return document


def _document(result: CheckResult) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "tool": {"name": "promptguard", "version": __version__},
        "status": result.status,
        "base": _revision(result.base),
        "head": _revision(result.head),
        "pricing": {
            "source": result.pricing.source,
            "version": result.pricing.version,
            "price_date": result.pricing.price_date.isoformat(),
        },
        "prompts": [_prompt(prompt) for prompt in result.prompts],
        "totals": {
            "base": {
                "input_tokens": result.totals.base_input_tokens,
                "monthly_cost": money(result.totals.base_monthly_cost),
            },
            "head": {
                "input_tokens": result.totals.head_input_tokens,
                "monthly_cost": money(result.totals.head_monthly_cost),
            },
            "monthly_cost_delta": money(result.totals.monthly_cost_delta),
        },
        "budgets": [_budget(budget) for budget in result.budgets],
        "violations": [_budget(budget) for budget in result.violations],
        "warnings": list(result.warnings),
        **_scope(result),
    }


def _scope(result: CheckResult) -> dict[str, Any]:
    """Return the `scope` entry of a `--changed-only` check; other checks have none."""
    if not result.scope.changed_only:
        return {}
    return {
        "scope": {
            "changed_only": True,
            "unchanged_left_out": result.scope.left_out,
            "every_prompt_reason": result.scope.every_prompt_reason,
        }
    }


@functools.cache
def report_schema() -> dict[str, Any]:
    """Return the JSON Schema of the report document, shipped in the package."""
    text = resources.files("promptguard.schemas").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def render_json(document: dict[str, Any]) -> str:
    """Serialize the document with stable key order and a trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
