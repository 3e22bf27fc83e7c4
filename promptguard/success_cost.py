"""Cost per successful completion of one prompt at one revision, from its replayed fixtures.

Fixtures, the output schema and the template are all read at the same
revision, so tightening a schema in a pull request shows up as recorded
outputs that now fail.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from promptguard import costmodel
from promptguard.config import Config, PromptSpec
from promptguard.discovery import config_relative
from promptguard.errors import ConfigError
from promptguard.paths import glob_match, is_glob
from promptguard.pricing import PriceBook
from promptguard.revisions import FileEntry, Repository, Revision
from promptguard.tokenizers import Tokenizer

if TYPE_CHECKING:
    # Imported where used: the fixture readers pull in jsonschema, which a
    # check of prompts without fixtures never needs.
    from promptguard.fixtures import Attempt
    from promptguard.replay import ReplayStats
    from promptguard.validators import OutputRules, OutputValidator

MAX_REASONS_SHOWN = 5


@dataclass(frozen=True)
class ScenarioFigures:
    """The cost model's outcome for one scenario (the baseline is named "baseline")."""

    name: str
    requests_per_month: Decimal
    monthly_cost: Decimal
    cost_per_success: Decimal | None
    additional_calls_per_month: Decimal
    success_probability: Decimal


@dataclass(frozen=True)
class RouteFigures:
    """One route of the baseline: its model, share of traffic, failure rate and spend."""

    model: str
    weight: Decimal
    failure_rate: Decimal
    failure_rate_source: str
    cost_per_attempt: Decimal
    spend_per_request: Decimal


@dataclass(frozen=True)
class SuccessCost:
    """Replay figures of one prompt at one revision."""

    fixtures_read: int
    fixtures_skipped: int
    failure_rate: Decimal
    failure_rate_low: Decimal
    failure_rate_high: Decimal
    attempts_per_success: Decimal
    cost_per_attempt: Decimal
    spend_per_request: Decimal
    cost_per_success: Decimal | None
    monthly_cost: Decimal
    additional_calls_per_month: Decimal
    input_tokens_mean: Decimal | None
    input_tokens_p95: int | None
    output_tokens_mean: Decimal | None
    output_tokens_p95: int | None
    input_tokens_p50: int | None
    output_tokens_p50: int | None
    output_tokens_counted: int
    failure_reasons: tuple[tuple[str, int], ...]
    skipped_locations: tuple[str, ...]
    routes: tuple[RouteFigures, ...] = ()
    scenarios: tuple[ScenarioFigures, ...] = ()
    fallback_model: str | None = None
    fallback_failure_rate: Decimal | None = None

    def scenario(self, name: str) -> ScenarioFigures | None:
        """Return the figures of a named scenario, or None if it was not computed."""
        return next((figures for figures in self.scenarios if figures.name == name), None)


def _files_matching(files: Mapping[str, FileEntry], pattern: str) -> list[str]:
    if is_glob(pattern):
        return sorted(path for path in files if glob_match(pattern, path))
    return [pattern] if pattern in files else []


def _rules(
    repository: Repository, revision: Revision, files: Mapping[str, FileEntry], spec: PromptSpec, config: Config
) -> OutputRules:
    schema: Mapping[str, Any] | None = None
    if spec.output_schema:
        path = config_relative(config, spec.output_schema, "output_schema")
        if path not in files:
            raise ConfigError(
                f"output_schema {spec.output_schema!r} not found at {revision.label}",
                location=config.source,
                fix="commit the schema file, or fix the path (relative to the config file)",
            )
        text = repository.read(revision, files[path]).decode("utf-8-sig", "replace")
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"output schema is not valid JSON: {error.msg}",
                location=f"{path}:{error.lineno}",
                fix="fix the JSON Schema file",
            ) from error
    from promptguard.validators import OutputRules

    return OutputRules(spec.output_format, schema, spec.output_regex, spec.max_output_chars)


@contextmanager
def open_fixture(repository: Repository, revision: Revision, entry: FileEntry) -> Iterator[BinaryIO]:
    """Open a fixture file as a stream, so a large file at a commit is never held in memory whole."""
    if entry.blob is None:
        full = repository.root / entry.path
        if full.is_symlink():
            yield io.BytesIO(repository.read(revision, entry))
            return
        with full.open("rb") as stream:
            yield stream
        return
    process = subprocess.Popen(
        ["git", "cat-file", "blob", entry.blob],
        cwd=repository.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        yield cast(BinaryIO, process.stdout)
    finally:
        process.stdout.close()
        process.kill()
        process.wait()


def _replay_files(
    repository: Repository,
    revision: Revision,
    files: Mapping[str, FileEntry],
    paths: list[str],
    validator: OutputValidator,
    count_input: Callable[[Attempt], int | None] | None,
    tokenizer: Tokenizer,
    strict: bool,
) -> tuple[ReplayStats, tuple[str, ...]]:
    from promptguard.fixtures import read_attempts
    from promptguard.replay import ReplayAccumulator

    accumulator = ReplayAccumulator(validator.validate, count_input)
    skipped: list[str] = []
    for path in paths:
        with open_fixture(repository, revision, files[path]) as stream:
            reader = read_attempts(path, stream, strict=strict, count_tokens=tokenizer.count_text)
            accumulator.add_all(reader)
        skipped.extend(f"{record.location}: {record.reason}" for record in reader.skipped[:MAX_REASONS_SHOWN])
    return accumulator.result(), tuple(skipped)


@dataclass(frozen=True)
class _ReplaySource:
    """Failure rate of one model, with where it came from."""

    rate: Decimal
    source: str


def replay_prompt(
    repository: Repository,
    revision: Revision,
    files: Mapping[str, FileEntry],
    spec: PromptSpec,
    config: Config,
    tokenizer: Tokenizer,
    prices: PriceBook,
    render_input_tokens: Callable[[Mapping[str, Any]], int],
    strict: bool,
) -> tuple[SuccessCost, ReplayStats | None] | None:
    """Apply the cost model to a prompt at a revision, from its fixtures and routing.

    Returns None when the prompt has neither fixtures there nor routing nor a
    fallback model, so cost per request alone describes it.
    """
    paths = _files_matching(files, config_relative(config, spec.fixtures, "fixtures")) if spec.fixtures else []
    if not paths and not spec.routing and not spec.fallback_model:
        return None

    from promptguard.validators import OutputValidator

    validator = OutputValidator(_rules(repository, revision, files, spec, config), config_location=config.source)

    def count_input(attempt: Attempt) -> int | None:
        if attempt.variables:
            return render_input_tokens(attempt.variables)
        return attempt.input_tokens

    stats: ReplayStats | None = None
    skipped: tuple[str, ...] = ()
    if paths:
        stats, skipped = _replay_files(repository, revision, files, paths, validator, count_input, tokenizer, strict)
        if stats.attempts == 0:
            stats = None

    def other_model_rate(fixtures: str | None, configured: Decimal | None, label: str) -> _ReplaySource:
        if fixtures:
            other_paths = _files_matching(files, config_relative(config, fixtures, label))
            if other_paths:
                other, _ = _replay_files(repository, revision, files, other_paths, validator, None, tokenizer, strict)
                if other.attempts:
                    estimate = costmodel.estimate_failure_rate(other.failures, other.attempts)
                    return _ReplaySource(estimate.rate, f"{other.attempts} fixtures")
        if configured is not None:
            return _ReplaySource(configured, "configured")
        return _ReplaySource(Decimal(0), "assumed 0")

    fallback_rate = (
        other_model_rate(spec.fallback_fixtures, spec.fallback_failure_rate, "fallback_fixtures")
        if spec.fallback_model
        else None
    )
    route_rates = {
        route.model: other_model_rate(route.fixtures, route.failure_rate, "routing fixtures")
        for route in spec.routing
        if route.fixtures or route.failure_rate is not None
    }
    template_tokens = render_input_tokens({})
    return _cost(stats, spec, config, prices, skipped, template_tokens, fallback_rate, route_rates), stats


def _whole(value: Decimal | None) -> int:
    return int(value.to_integral_value(ROUND_HALF_UP)) if value is not None else 0


def _cost(
    stats: ReplayStats | None,
    spec: PromptSpec,
    config: Config,
    prices: PriceBook,
    skipped: tuple[str, ...],
    template_tokens: int,
    fallback_rate: _ReplaySource | None,
    route_rates: Mapping[str, _ReplaySource],
) -> SuccessCost:
    # Priced per request at the mean token counts, rounded to whole tokens;
    # without fixtures, at the template's tokens and expected_output_tokens.
    input_mean = stats.input_tokens.mean if stats else None
    output_mean = stats.output_tokens.mean if stats else None
    input_tokens = _whole(input_mean) if input_mean is not None else template_tokens
    output_tokens = _whole(output_mean) if output_mean is not None else spec.expected_output_tokens

    if stats is not None:
        estimate = costmodel.estimate_failure_rate(stats.failures, stats.attempts)
        primary = _ReplaySource(estimate.rate, f"{stats.attempts} fixtures")
        low, high = estimate.low, estimate.high
    else:
        primary = _ReplaySource(Decimal(0), "assumed 0")
        low, high = Decimal(0), Decimal(1)

    def build_routes(max_retries: int, weights: Mapping[str, Decimal] | None = None) -> list[costmodel.WeightedRoute]:
        fallback = None
        if spec.fallback_model and fallback_rate is not None:
            fallback = costmodel.RouteInput(
                prices.request_cost(spec.fallback_model, input_tokens, output_tokens),
                fallback_rate.rate,
                0,
                None,
                spec.fallback_model,
            )
        entries = [(route.model, route.weight) for route in spec.routing] or [(spec.model, Decimal(1))]
        routes = []
        for model, weight in entries:
            rate = route_rates[model].rate if model in route_rates else primary.rate
            route = costmodel.RouteInput(
                prices.request_cost(model, input_tokens, output_tokens), rate, max_retries, fallback, model
            )
            routes.append(costmodel.WeightedRoute(model, (weights or {}).get(model, weight), route))
        return routes

    baseline_routes = build_routes(spec.max_retries)
    baseline = costmodel.estimate_traffic(baseline_routes, spec.requests_per_month)
    scenario_figures = [_figures("baseline", baseline)]
    for scenario in config.scenarios.values():
        requests = Decimal(spec.requests_per_month)
        if scenario.requests_per_month is not None:
            requests = Decimal(scenario.requests_per_month)
        if scenario.traffic_multiplier is not None:
            requests *= scenario.traffic_multiplier
        routes = build_routes(
            scenario.max_retries if scenario.max_retries is not None else spec.max_retries,
            {model: weight for model, weight in scenario.routing.items()},
        )
        failure_rates: dict[str, Decimal] = {}
        if scenario.failure_rate is not None:
            failure_rates.update({weighted.name: scenario.failure_rate for weighted in routes})
        if scenario.fallback_failure_rate is not None and spec.fallback_model:
            failure_rates[spec.fallback_model] = scenario.fallback_failure_rate
        unknown = sorted(set(scenario.routing) - {weighted.name for weighted in routes})
        if unknown:
            raise ConfigError(
                f"scenario {scenario.name!r} routes traffic to {', '.join(unknown)}, not a route of {spec.pattern!r}",
                location=config.source,
                fix="name models listed in this prompt's routing",
            )
        applied = costmodel.apply_scenario(routes, costmodel.Scenario(scenario.name, None, {}, failure_rates))
        scenario_figures.append(_figures(scenario.name, costmodel.estimate_traffic(applied, requests)))

    spend_per_request = _mean(baseline_routes, lambda route: route.spend_per_request)
    expected_calls = _mean(baseline_routes, lambda route: route.expected_calls)
    success_probability = _mean(baseline_routes, lambda route: route.success_probability)
    attempts_per_success = expected_calls / success_probability if success_probability > 0 else Decimal(0)
    cost_per_success = spend_per_request / success_probability if success_probability > 0 else None
    reasons = sorted(stats.failures_by_description.items(), key=lambda item: (-item[1], item[0])) if stats else []
    return SuccessCost(
        fixtures_read=stats.attempts if stats else 0,
        fixtures_skipped=stats.fixtures_skipped if stats else 0,
        failure_rate=primary.rate,
        failure_rate_low=low,
        failure_rate_high=high,
        attempts_per_success=attempts_per_success,
        cost_per_attempt=baseline_routes[0].route.cost_per_attempt,
        spend_per_request=spend_per_request,
        cost_per_success=cost_per_success,
        monthly_cost=baseline.monthly_cost,
        additional_calls_per_month=baseline.additional_calls,
        input_tokens_mean=input_mean,
        input_tokens_p95=stats.input_tokens.p95 if stats else None,
        output_tokens_mean=output_mean,
        output_tokens_p95=stats.output_tokens.p95 if stats else None,
        input_tokens_p50=stats.input_tokens.p50 if stats else None,
        output_tokens_p50=stats.output_tokens.p50 if stats else None,
        output_tokens_counted=stats.output_tokens_counted if stats else 0,
        failure_reasons=tuple(reasons[:MAX_REASONS_SHOWN]),
        skipped_locations=skipped,
        routes=tuple(
            RouteFigures(
                weighted.name,
                weighted.weight,
                weighted.route.failure_rate,
                route_rates[weighted.name].source if weighted.name in route_rates else primary.source,
                weighted.route.cost_per_attempt,
                costmodel.estimate_route(weighted.route).spend_per_request,
            )
            for weighted in baseline_routes
        ),
        scenarios=tuple(scenario_figures),
        fallback_model=spec.fallback_model,
        fallback_failure_rate=fallback_rate.rate if fallback_rate else None,
    )


def _figures(name: str, estimate: costmodel.TrafficEstimate) -> ScenarioFigures:
    requests = estimate.requests_per_month
    return ScenarioFigures(
        name=name,
        requests_per_month=requests,
        monthly_cost=estimate.monthly_cost,
        cost_per_success=estimate.cost_per_success,
        additional_calls_per_month=estimate.additional_calls,
        success_probability=estimate.successful_requests / requests if requests else Decimal(0),
    )


def _mean(routes: list[costmodel.WeightedRoute], figure: Callable[[costmodel.CostEstimate], Decimal]) -> Decimal:
    """Return a per-request figure averaged over routes by their traffic weights."""
    total = sum((weighted.weight for weighted in routes), Decimal(0))
    return sum(
        (weighted.weight / total * figure(costmodel.estimate_route(weighted.route)) for weighted in routes),
        Decimal(0),
    )
