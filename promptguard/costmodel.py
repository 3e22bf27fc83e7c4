"""Expected cost of LLM calls with failures, retries, fallback models and traffic routing.

Pure functions over `decimal.Decimal`. A route sends each request to a primary
model, retries it up to `max_retries` times, and hands the requests that still
fail to an optional fallback route. Attempts are assumed to fail independently,
each with the route's failure rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

# Two-sided 95 % normal quantile, for the Wilson score interval.
Z_95 = Decimal("1.959963984540054")

# Digits used inside the Wilson computation before rounding to the current context.
_WILSON_PRECISION = 50

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class FailureRateEstimate:
    """Observed failure rate with its Wilson score interval."""

    failures: int
    attempts: int
    rate: Decimal
    low: Decimal
    high: Decimal


def estimate_failure_rate(failures: int, attempts: int, z: Decimal = Z_95) -> FailureRateEstimate:
    """Estimate the per-attempt failure probability with a Wilson score interval.

    With no attempts the rate is 0 and the interval is [0, 1], since nothing is known.
    """
    if attempts < 0 or not 0 <= failures <= attempts:
        raise ValueError(f"failures {failures} must be between 0 and attempts {attempts}")
    if attempts == 0:
        return FailureRateEstimate(failures, attempts, ZERO, ZERO, ONE)

    with localcontext() as context:
        context.prec = _WILSON_PRECISION
        n = Decimal(attempts)
        p = Decimal(failures) / n
        z2 = z * z
        denominator = 1 + z2 / n
        center = (p + z2 / (2 * n)) / denominator
        margin = z / denominator * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt()
        low = max(ZERO, center - margin)
        high = min(ONE, center + margin)
    # Unary plus rounds to the caller's context precision.
    return FailureRateEstimate(failures, attempts, +p, +low, +high)


@dataclass(frozen=True)
class RouteInput:
    """One model in a route: its cost per attempt, failure rate, retries and fallback."""

    cost_per_attempt: Decimal
    failure_rate: Decimal
    max_retries: int = 0
    # Takes the requests this model still fails after its retries.
    fallback: RouteInput | None = None
    # Model name, matched by scenario failure-rate overrides.
    model: str | None = None

    def __post_init__(self) -> None:
        if self.cost_per_attempt < 0:
            raise ValueError(f"cost_per_attempt {self.cost_per_attempt} is negative")
        if not ZERO <= self.failure_rate <= ONE:
            raise ValueError(f"failure_rate {self.failure_rate} is not between 0 and 1")
        if self.max_retries < 0:
            raise ValueError(f"max_retries {self.max_retries} is negative")


@dataclass(frozen=True)
class CostEstimate:
    """Expected calls, success probability and spend of one request sent down a route."""

    # Expected calls to the primary model, retries included: sum of p^k for k = 0..r.
    primary_attempts: Decimal
    # Probability that the primary model succeeds within its retries: 1 - p^(r+1).
    primary_success_probability: Decimal
    # Expected calls to the fallback chain per request.
    fallback_calls: Decimal
    expected_calls: Decimal
    success_probability: Decimal
    spend_per_request: Decimal
    # Spend per request / success probability; None when no request can succeed.
    cost_per_success: Decimal | None

    @property
    def additional_calls(self) -> Decimal:
        """Calls beyond the first per request: retries plus fallback calls."""
        return self.expected_calls - 1


def estimate_route(route: RouteInput) -> CostEstimate:
    """Compute the expected calls, success probability and spend of one request."""
    p = route.failure_rate
    # Attempt k + 1 happens when the first k failed, with probability p^k. Summing the
    # series term by term keeps it exact, gives r + 1 when p == 1, and avoids Decimal 0**0.
    primary_attempts = ZERO
    gives_up = ONE
    for _ in range(route.max_retries + 1):
        primary_attempts += gives_up
        gives_up *= p
    spend = route.cost_per_attempt * primary_attempts

    fallback_calls = ZERO
    fallback_failure = ONE
    if route.fallback is not None:
        fallback = estimate_route(route.fallback)
        fallback_calls = gives_up * fallback.expected_calls
        fallback_failure = 1 - fallback.success_probability
        spend += gives_up * fallback.spend_per_request

    # Written as 1 - (gives up) * (fallback fails) so it falls as p rises, even after rounding.
    success = 1 - gives_up * fallback_failure
    return CostEstimate(
        primary_attempts=primary_attempts,
        primary_success_probability=1 - gives_up,
        fallback_calls=fallback_calls,
        expected_calls=primary_attempts + fallback_calls,
        success_probability=success,
        spend_per_request=spend,
        cost_per_success=spend / success if success > 0 else None,
    )


@dataclass(frozen=True)
class WeightedRoute:
    """A named route and its share of traffic; weights are relative and need not sum to 1."""

    name: str
    weight: Decimal
    route: RouteInput


@dataclass(frozen=True)
class RouteTraffic:
    """One route's part of the monthly traffic and what it costs."""

    name: str
    requests_per_month: Decimal
    estimate: CostEstimate
    monthly_cost: Decimal
    additional_calls: Decimal
    successful_requests: Decimal


@dataclass(frozen=True)
class TrafficEstimate:
    """Monthly totals over all routes; each total is the sum of the routes' parts."""

    requests_per_month: Decimal
    routes: tuple[RouteTraffic, ...]
    monthly_cost: Decimal
    additional_calls: Decimal
    successful_requests: Decimal
    # Monthly cost / successful requests; None when no request can succeed.
    cost_per_success: Decimal | None


def estimate_traffic(routes: Sequence[WeightedRoute], requests_per_month: int | Decimal) -> TrafficEstimate:
    """Split monthly requests across routes by weight and total their cost and calls."""
    requests = Decimal(requests_per_month)
    if requests < 0:
        raise ValueError(f"requests_per_month {requests_per_month} is negative")
    if not routes:
        raise ValueError("no routes given; pass at least one route")
    for weighted in routes:
        if weighted.weight < 0:
            raise ValueError(f"route {weighted.name!r} has negative weight {weighted.weight}")
    total_weight = sum((weighted.weight for weighted in routes), ZERO)
    if total_weight == 0:
        raise ValueError("route weights sum to 0; give at least one route a positive weight")

    parts = tuple(_route_traffic(weighted, requests, total_weight) for weighted in routes)
    monthly_cost = sum((part.monthly_cost for part in parts), ZERO)
    successful = sum((part.successful_requests for part in parts), ZERO)
    return TrafficEstimate(
        requests_per_month=requests,
        routes=parts,
        monthly_cost=monthly_cost,
        additional_calls=sum((part.additional_calls for part in parts), ZERO),
        successful_requests=successful,
        cost_per_success=monthly_cost / successful if successful > 0 else None,
    )


def _route_traffic(weighted: WeightedRoute, requests: Decimal, total_weight: Decimal) -> RouteTraffic:
    route_requests = requests * weighted.weight / total_weight
    estimate = estimate_route(weighted.route)
    return RouteTraffic(
        name=weighted.name,
        requests_per_month=route_requests,
        estimate=estimate,
        monthly_cost=route_requests * estimate.spend_per_request,
        additional_calls=route_requests * estimate.additional_calls,
        successful_requests=route_requests * estimate.success_probability,
    )


def estimate_monthly(route: RouteInput, requests_per_month: int | Decimal) -> TrafficEstimate:
    """Estimate a single route that takes all traffic."""
    return estimate_traffic([WeightedRoute("default", ONE, route)], requests_per_month)


@dataclass(frozen=True)
class Scenario:
    """Named changes to the baseline: traffic, route weights or failure rates.

    `weights` is keyed by route name. `failure_rates` is keyed by model name and
    applies to every step of every route with that model (primary or fallback).
    """

    name: str
    requests_per_month: int | Decimal | None = None
    weights: Mapping[str, Decimal] = field(default_factory=dict)
    failure_rates: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's traffic estimate, for side-by-side comparison."""

    name: str
    estimate: TrafficEstimate


def _models(route: RouteInput | None) -> set[str]:
    models: set[str] = set()
    while route is not None:
        if route.model:
            models.add(route.model)
        route = route.fallback
    return models


def _override_failure_rates(route: RouteInput, rates: Mapping[str, Decimal]) -> RouteInput:
    fallback = None
    if route.fallback is not None:
        fallback = _override_failure_rates(route.fallback, rates)
    rate = rates.get(route.model, route.failure_rate) if route.model else route.failure_rate
    return dataclasses.replace(route, failure_rate=rate, fallback=fallback)


def apply_scenario(routes: Sequence[WeightedRoute], scenario: Scenario) -> list[WeightedRoute]:
    """Return the routes with the scenario's weights and failure rates applied."""
    names = {weighted.name for weighted in routes}
    unknown = sorted(set(scenario.weights) - names)
    if unknown:
        raise ValueError(
            f"scenario {scenario.name!r} sets weights for unknown routes {unknown}; known routes are {sorted(names)}"
        )
    models = set().union(*(_models(weighted.route) for weighted in routes))
    unknown = sorted(set(scenario.failure_rates) - models)
    if unknown:
        raise ValueError(
            f"scenario {scenario.name!r} sets failure rates for unknown models {unknown}; "
            f"known models are {sorted(models)}"
        )
    return [
        WeightedRoute(
            weighted.name,
            scenario.weights.get(weighted.name, weighted.weight),
            _override_failure_rates(weighted.route, scenario.failure_rates),
        )
        for weighted in routes
    ]


def compare_scenarios(
    routes: Sequence[WeightedRoute],
    requests_per_month: int | Decimal,
    scenarios: Sequence[Scenario],
) -> tuple[ScenarioResult, ...]:
    """Estimate the baseline (named "baseline") and then each scenario, in order."""
    results = [ScenarioResult("baseline", estimate_traffic(routes, requests_per_month))]
    for scenario in scenarios:
        requests = scenario.requests_per_month
        estimate = estimate_traffic(
            apply_scenario(routes, scenario),
            requests_per_month if requests is None else requests,
        )
        results.append(ScenarioResult(scenario.name, estimate))
    return tuple(results)
