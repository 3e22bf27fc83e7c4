"""Budget figures of a check: which number each budget limits, per prompt, over the totals, per scenario.

The comparison itself is `promptguard.budgets.evaluate`; this module only
picks the figure. A budget with `scenario = "name"` reads the figures of that
scenario of the cost model instead of the baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from promptguard import budgets as budget_rules
from promptguard.budgets import BudgetResult
from promptguard.config import TOTAL_BUDGETS, Config, Limit, PromptSpec
from promptguard.errors import ConfigError

if TYPE_CHECKING:
    from promptguard.check import PromptResult, PromptSide, Totals
    from promptguard.history import DriftFigures
    from promptguard.revisions import Repository, Revision

logger = logging.getLogger(__name__)

DRIFT_BUDGETS = frozenset({"max_input_tokens_growth_pct", "max_monthly_cost_growth_pct"})
DEFAULT_WINDOW_DAYS = 90


def evaluate_budgets(
    repository: Repository,
    head: Revision,
    results: list[PromptResult],
    totals: Totals,
    config: Config,
    specs: Mapping[str, PromptSpec],
    head_specs: Mapping[str, PromptSpec],
) -> list[BudgetResult]:
    """Evaluate per-prompt budgets (a prompt's own over the global ones) and the budgets on totals.

    Drift budgets compare head with the prompt at the start of their window
    (`window_days`, default 90).
    """
    _check_scenarios(config, specs)
    drifts = _drift_windows(repository, config, head, results, head_specs)
    outcomes: list[BudgetResult] = []
    global_per_prompt = {name: limit for name, limit in config.budgets.items() if name not in TOTAL_BUDGETS}
    for result in results:
        if result.head is None:
            continue
        spec = specs.get(result.path)
        limits: dict[str, Limit] = {**global_per_prompt, **(spec.budgets if spec else {})}
        for name, limit in sorted(limits.items()):
            actual = prompt_figure(name, limit, result, config)
            window = drifts.get(limit.window_days or DEFAULT_WINDOW_DAYS)
            if name in DRIFT_BUDGETS and window is not None and result.path in window.prompts:
                from promptguard.history import drift_figure

                actual = drift_figure(name, window.prompts[result.path])
            if actual is not None:
                outcomes.append(budget_rules.evaluate(name, limit, actual, result.path, limit.scenario))

    for name, limit in sorted(config.budgets.items()):
        if name not in TOTAL_BUDGETS:
            continue
        total_actual = total_figure(name, limit, totals, results, config)
        window = drifts.get(limit.window_days or DEFAULT_WINDOW_DAYS)
        if name == "max_monthly_cost_growth_pct" and window is not None:
            total_actual = window.total_monthly_cost_growth_pct
            if total_actual is None:
                # A log line, not a report warning, so that --strict does not fail every young repository.
                logger.warning(
                    "%s not evaluated: no prompt existed at the start of its %d-day window (%s)",
                    name,
                    window.window_days,
                    window.window_start,
                )
        if total_actual is not None:
            outcomes.append(budget_rules.evaluate(name, limit, total_actual, None, limit.scenario))
    return outcomes


def _check_scenarios(config: Config, specs: Mapping[str, PromptSpec]) -> None:
    named = [limit.scenario for limit in config.budgets.values() if limit.scenario]
    named += [limit.scenario for spec in specs.values() for limit in spec.budgets.values() if limit.scenario]
    for scenario in named:
        if scenario not in config.scenarios:
            known = ", ".join(sorted(config.scenarios)) or "none defined"
            raise ConfigError(
                f"budget names scenario {scenario!r}, which is not defined",
                location=config.source,
                fix=f"add [scenarios.{scenario}] or use a defined one ({known})",
            )


def _drift_windows(
    repository: Repository,
    config: Config,
    head: Revision,
    results: list[PromptResult],
    specs: Mapping[str, PromptSpec],
) -> dict[int, DriftFigures]:
    """Compute drift figures once per window length that a drift budget names."""
    limits = [limit for name, limit in config.budgets.items() if name in DRIFT_BUDGETS]
    limits += [limit for spec in specs.values() for name, limit in spec.budgets.items() if name in DRIFT_BUDGETS]
    if not limits:
        return {}
    from promptguard.history import drift_figures
    from promptguard.tokencache import TokenCache

    cache = TokenCache.open_default()
    try:
        return {
            days: drift_figures(repository, config, head, results, specs, days, cache)
            for days in {limit.window_days or DEFAULT_WINDOW_DAYS for limit in limits}
        }
    finally:
        cache.close()


def scenario_monthly_cost(side: PromptSide | None, scenario: str | None, config: Config) -> Decimal:
    """Return a side's monthly cost in the baseline or a named scenario (0 for a missing side)."""
    if side is None:
        return Decimal(0)
    if scenario is None:
        return side.monthly_cost
    if side.success is not None:
        figures = side.success.scenario(scenario)
        if figures is not None:
            return figures.monthly_cost
    # Without the cost model only the scenario's traffic applies.
    overrides = config.scenarios[scenario]
    requests = Decimal(
        overrides.requests_per_month if overrides.requests_per_month is not None else side.requests_per_month
    )
    if overrides.traffic_multiplier is not None:
        requests *= overrides.traffic_multiplier
    return side.cost_per_request * requests


def _cost_per_success(side: PromptSide | None, scenario: str | None) -> Decimal | None:
    if side is None or side.success is None:
        return None
    if scenario is None:
        return side.success.cost_per_success
    figures = side.success.scenario(scenario)
    return figures.cost_per_success if figures is not None else None


def prompt_figure(budget: str, limit: Limit, result: PromptResult, config: Config) -> Decimal | None:
    """Return the figure a budget limits for one prompt, or None when it does not apply."""
    head = result.head
    base = result.base
    assert head is not None
    if budget == "max_input_tokens":
        return Decimal(head.input_tokens)
    if budget == "max_input_tokens_increase_pct":
        return budget_rules.increase_pct(base.input_tokens, head.input_tokens) if base else None
    if budget == "max_cost_per_request":
        return head.cost_per_request
    if budget == "max_monthly_cost":
        return scenario_monthly_cost(head, limit.scenario, config)
    if budget == "max_monthly_cost_increase":
        return scenario_monthly_cost(head, limit.scenario, config) - scenario_monthly_cost(base, limit.scenario, config)
    return _success_figure(budget, limit, result)


def _success_figure(budget: str, limit: Limit, result: PromptResult) -> Decimal | None:
    """Return a figure from the cost model, or None when the prompt has no fixtures or routing."""
    head = result.head.success if result.head else None
    if head is None:
        return None
    if budget == "max_failure_rate":
        if head.fixtures_read == 0:
            return None
        return head.failure_rate_high if limit.use_upper_bound else head.failure_rate
    if budget == "max_cost_per_success":
        return _cost_per_success(result.head, limit.scenario)
    if budget == "max_output_tokens_p95":
        return Decimal(head.output_tokens_p95) if head.output_tokens_p95 is not None else None
    if budget == "max_cost_per_success_increase_pct":
        base_cost = _cost_per_success(result.base, limit.scenario)
        head_cost = _cost_per_success(result.head, limit.scenario)
        if base_cost is None or head_cost is None:
            return None
        return budget_rules.increase_pct(base_cost, head_cost)
    return None


def total_figure(
    budget: str, limit: Limit, totals: Totals, results: list[PromptResult], config: Config
) -> Decimal | None:
    """Return the figure a budget limits over all prompts, or None when it does not apply."""
    if limit.scenario is None:
        if budget == "max_monthly_cost":
            return totals.head_monthly_cost
        if budget == "max_monthly_cost_increase":
            return totals.monthly_cost_delta
        return None
    head_total = sum((scenario_monthly_cost(r.head, limit.scenario, config) for r in results), Decimal(0))
    if budget == "max_monthly_cost":
        return head_total
    if budget == "max_monthly_cost_increase":
        base_total = sum((scenario_monthly_cost(r.base, limit.scenario, config) for r in results), Decimal(0))
        return head_total - base_total
    return None
