"""Tests for the cost model: worked figures computed by hand, and Hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptguard.costmodel import (
    RouteInput,
    Scenario,
    WeightedRoute,
    compare_scenarios,
    estimate_failure_rate,
    estimate_monthly,
    estimate_route,
    estimate_traffic,
)

D = Decimal


def test_longer_prompt_monthly_cost() -> None:
    # 550 more input tokens at $0.012 per 1K is $0.0066 per request; times 7.5M is $49,500.
    price_per_token = D("0.012") / 1000
    before = RouteInput(cost_per_attempt=900 * price_per_token, failure_rate=D(0))
    after = RouteInput(cost_per_attempt=1450 * price_per_token, failure_rate=D(0))

    increase = estimate_monthly(after, 7_500_000).monthly_cost - estimate_monthly(before, 7_500_000).monthly_cost

    assert increase == D("49500")


def test_cheaper_model_cheaper_with_retries() -> None:
    reliable = estimate_route(RouteInput(D("0.015"), D("0.02"), max_retries=2))
    cheap = estimate_route(RouteInput(D("0.010"), D("0.12"), max_retries=2))

    # Attempts 1 + 0.02 + 0.0004 = 1.0204, success 1 - 0.02^3 = 0.999992.
    assert reliable.cost_per_success == D("0.015") * D("1.0204") / D("0.999992")
    # Attempts 1 + 0.12 + 0.0144 = 1.1344, success 1 - 0.12^3 = 0.998272.
    assert cheap.cost_per_success == D("0.010") * D("1.1344") / D("0.998272")
    assert cheap.cost_per_success < reliable.cost_per_success


def test_cheaper_model_dearer_with_fallback() -> None:
    reliable = estimate_route(RouteInput(D("0.015"), D("0.02")))
    fallback = RouteInput(D("0.045"), D(0))
    cheap = estimate_route(RouteInput(D("0.010"), D("0.12"), fallback=fallback))

    # $0.010 always, plus $0.045 on the 12 % that fail: 0.010 + 0.0054 = 0.0154 per request,
    # and every request succeeds through the fallback.
    assert cheap.spend_per_request == D("0.0154")
    assert cheap.success_probability == D(1)
    assert cheap.cost_per_success == D("0.0154")
    # The reliable model alone: 0.015 / 0.98 = 0.01530...
    assert reliable.cost_per_success == D("0.015") / D("0.98")
    assert cheap.cost_per_success > reliable.cost_per_success
    assert cheap.fallback_calls == D("0.12")


def test_additional_calls_with_one_retry() -> None:
    # With one retry, each request makes 1 + p calls: 9M * 0.04 and 9M * 0.09 extra calls.
    before = estimate_monthly(RouteInput(D("0.01"), D("0.04"), max_retries=1), 9_000_000)
    after = estimate_monthly(RouteInput(D("0.01"), D("0.09"), max_retries=1), 9_000_000)
    assert before.additional_calls == D(360_000)
    assert after.additional_calls == D(810_000)


def test_always_failing_makes_all_attempts() -> None:
    estimate = estimate_route(RouteInput(D("0.01"), D(1), max_retries=3))
    assert estimate.primary_attempts == 4
    assert estimate.success_probability == 0
    assert estimate.cost_per_success is None


def test_fallback_chain_counts_calls() -> None:
    second = RouteInput(D("0.03"), D("0.5"), max_retries=1)
    first = RouteInput(D("0.01"), D("0.2"), max_retries=0, fallback=second)
    estimate = estimate_route(first)
    # Fallback reached on 20 %; it makes 1 + 0.5 calls and fails 0.25 of the time.
    assert estimate.fallback_calls == D("0.2") * D("1.5")
    assert estimate.expected_calls == D("1.3")
    assert estimate.success_probability == 1 - D("0.2") * D("0.25")
    assert estimate.spend_per_request == D("0.01") + D("0.2") * D("0.03") * D("1.5")


def test_wilson_interval_known_value() -> None:
    # 2 failures in 100 attempts: Wilson 95 % interval is about [0.0055, 0.0700].
    estimate = estimate_failure_rate(2, 100)
    assert estimate.rate == D("0.02")
    assert D("0.0055") < estimate.low < D("0.0056")
    assert D("0.0699") < estimate.high < D("0.0701")


def test_wilson_interval_edges() -> None:
    none_failed = estimate_failure_rate(0, 50)
    assert none_failed.low == 0
    assert none_failed.high > 0
    all_failed = estimate_failure_rate(50, 50)
    assert all_failed.high == 1
    unknown = estimate_failure_rate(0, 0)
    assert unknown.low == 0
    assert unknown.high == 1


def test_wilson_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="failures 5"):
        estimate_failure_rate(5, 3)


def test_route_input_validation() -> None:
    with pytest.raises(ValueError, match=r"failure_rate 1\.5"):
        RouteInput(D("0.01"), D("1.5"))
    with pytest.raises(ValueError, match="max_retries -1"):
        RouteInput(D("0.01"), D("0.1"), max_retries=-1)


def test_routing_splits_traffic() -> None:
    routes = [
        WeightedRoute("small", D(3), RouteInput(D("0.001"), D("0.10"), max_retries=1)),
        WeightedRoute("large", D(1), RouteInput(D("0.02"), D("0.01"))),
    ]
    estimate = estimate_traffic(routes, 1_000_000)
    small, large = estimate.routes
    assert small.requests_per_month == D(750_000)
    assert large.requests_per_month == D(250_000)
    # small: 750,000 * 0.001 * 1.1 = 825; large: 250,000 * 0.02 = 5,000.
    assert estimate.monthly_cost == D(825) + D(5000)
    assert estimate.additional_calls == D(75_000)


def test_scenarios_side_by_side() -> None:
    routes = [
        WeightedRoute("small", D(1), RouteInput(D("0.001"), D("0.10"), model="gpt-4o-mini")),
        WeightedRoute("large", D(1), RouteInput(D("0.02"), D("0.01"), model="gpt-4o")),
    ]
    scenarios = [
        Scenario("all small", weights={"large": D(0)}),
        Scenario("outage", failure_rates={"gpt-4o": D("0.5")}),
        Scenario("growth", requests_per_month=2_000_000),
    ]

    results = compare_scenarios(routes, 1_000_000, scenarios)

    assert [result.name for result in results] == ["baseline", "all small", "outage", "growth"]
    baseline, all_small, outage, growth = (result.estimate for result in results)
    assert baseline.monthly_cost == D(500) + D(10_000)
    assert all_small.monthly_cost == D(1000)
    assert outage.routes[1].estimate.success_probability == D("0.5")
    assert growth.monthly_cost == 2 * baseline.monthly_cost


def test_scenario_unknown_names_rejected() -> None:
    routes = [WeightedRoute("main", D(1), RouteInput(D("0.01"), D("0.1"), model="gpt-4o"))]
    with pytest.raises(ValueError, match="unknown routes"):
        compare_scenarios(routes, 100, [Scenario("typo", weights={"mian": D(1)})])
    with pytest.raises(ValueError, match="unknown models"):
        compare_scenarios(routes, 100, [Scenario("typo", failure_rates={"gpt4o": D("0.2")})])


def test_zero_weights_rejected() -> None:
    routes = [WeightedRoute("main", D(0), RouteInput(D("0.01"), D("0.1")))]
    with pytest.raises(ValueError, match="sum to 0"):
        estimate_traffic(routes, 100)


costs = st.decimals(min_value=0, max_value=10, places=6)
rates = st.decimals(min_value=0, max_value=D("0.99"), places=4)
retries = st.integers(min_value=0, max_value=5)


@given(costs, costs, rates, retries)
def test_cost_per_success_monotonic_in_cost(cost_a: Decimal, cost_b: Decimal, rate: Decimal, max_retries: int) -> None:
    low, high = sorted([cost_a, cost_b])
    cheaper = estimate_route(RouteInput(low, rate, max_retries)).cost_per_success
    dearer = estimate_route(RouteInput(high, rate, max_retries)).cost_per_success
    assert cheaper is not None
    assert dearer is not None
    assert cheaper <= dearer


@given(costs, rates, rates, retries, st.one_of(st.none(), st.tuples(costs, rates, retries)))
def test_cost_per_success_monotonic_in_failure_rate(
    cost: Decimal,
    rate_a: Decimal,
    rate_b: Decimal,
    max_retries: int,
    fallback_fields: tuple[Decimal, Decimal, int] | None,
) -> None:
    fallback = RouteInput(*fallback_fields) if fallback_fields else None
    low, high = sorted([rate_a, rate_b])
    better = estimate_route(RouteInput(cost, low, max_retries, fallback)).cost_per_success
    worse = estimate_route(RouteInput(cost, high, max_retries, fallback)).cost_per_success
    assert better is not None
    assert worse is not None
    assert better <= worse


@given(
    st.lists(
        st.tuples(st.decimals(min_value=0, max_value=100, places=2), costs, rates, retries),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=0, max_value=100_000_000),
)
def test_totals_equal_sum_of_parts(route_fields: list[tuple[Decimal, Decimal, Decimal, int]], requests: int) -> None:
    routes = [
        WeightedRoute(f"route-{number}", weight, RouteInput(cost, rate, max_retries))
        for number, (weight, cost, rate, max_retries) in enumerate(route_fields)
    ]
    if sum(weighted.weight for weighted in routes) == 0:
        return

    estimate = estimate_traffic(routes, requests)

    assert estimate.monthly_cost == sum(part.monthly_cost for part in estimate.routes)
    assert estimate.additional_calls == sum(part.additional_calls for part in estimate.routes)
    assert estimate.successful_requests == sum(part.successful_requests for part in estimate.routes)
    for part in estimate.routes:
        assert part.monthly_cost == part.requests_per_month * part.estimate.spend_per_request


@given(costs, rates, retries)
def test_single_route_monthly_is_product(cost: Decimal, rate: Decimal, max_retries: int) -> None:
    route = RouteInput(cost, rate, max_retries)
    estimate = estimate_monthly(route, 1_000_000)
    assert estimate.monthly_cost == 1_000_000 * estimate_route(route).spend_per_request
