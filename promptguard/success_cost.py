"""Cost per successful completion of one prompt at one revision, from its replayed fixtures.

Fixtures, the output schema and the template are all read at the same
revision, so tightening a schema in a pull request shows up as recorded
outputs that now fail.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from promptguard import costmodel
from promptguard.config import Config, PromptSpec
from promptguard.discovery import config_relative
from promptguard.errors import ConfigError
from promptguard.fixtures import Attempt, read_attempts
from promptguard.paths import glob_match, is_glob
from promptguard.pricing import PriceBook
from promptguard.replay import ReplayAccumulator, ReplayStats
from promptguard.revisions import FileEntry, Repository, Revision
from promptguard.tokenizers import Tokenizer
from promptguard.validators import OutputRules, OutputValidator

MAX_REASONS_SHOWN = 5


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
    output_tokens_counted: int
    failure_reasons: tuple[tuple[str, int], ...]
    skipped_locations: tuple[str, ...]


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
    return OutputRules(spec.output_format, schema, spec.output_regex, spec.max_output_chars)


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
) -> tuple[SuccessCost, ReplayStats] | None:
    """Replay the prompt's fixtures at a revision; None when it has no fixtures there."""
    if not spec.fixtures:
        return None
    pattern = config_relative(config, spec.fixtures, "fixtures")
    paths = _files_matching(files, pattern)
    if not paths:
        return None

    validator = OutputValidator(_rules(repository, revision, files, spec, config), config_location=config.source)

    def count_input(attempt: Attempt) -> int | None:
        if attempt.variables:
            return render_input_tokens(attempt.variables)
        return attempt.input_tokens

    accumulator = ReplayAccumulator(validator.validate, count_input)
    skipped: list[str] = []
    for path in paths:
        data = repository.read(revision, files[path])
        reader = read_attempts(path, io.BytesIO(data), strict=strict, count_tokens=tokenizer.count_text)
        accumulator.add_all(reader)
        skipped.extend(f"{record.location}: {record.reason}" for record in reader.skipped[:MAX_REASONS_SHOWN])
    stats = accumulator.result()
    if stats.attempts == 0:
        return None
    return _cost(stats, spec, tokenizer, prices, tuple(skipped)), stats


def _whole(value: Decimal | None) -> int:
    return int(value.to_integral_value(ROUND_HALF_UP)) if value is not None else 0


def _cost(
    stats: ReplayStats, spec: PromptSpec, tokenizer: Tokenizer, prices: PriceBook, skipped: tuple[str, ...]
) -> SuccessCost:
    input_mean = stats.input_tokens.mean
    output_mean = stats.output_tokens.mean
    # Priced per request at the mean token counts, rounded to whole tokens.
    cost_per_attempt = prices.request_cost(spec.model, _whole(input_mean), _whole(output_mean))
    estimate = costmodel.estimate_failure_rate(stats.failures, stats.attempts)

    fallback = None
    if spec.fallback_model:
        fallback_cost = prices.request_cost(spec.fallback_model, _whole(input_mean), _whole(output_mean))
        fallback_rate = spec.fallback_failure_rate if spec.fallback_failure_rate is not None else Decimal(0)
        fallback = costmodel.RouteInput(fallback_cost, fallback_rate, 0, None, spec.fallback_model)
    route = costmodel.RouteInput(cost_per_attempt, estimate.rate, spec.max_retries, fallback, spec.model)
    result = costmodel.estimate_route(route)

    # NOTE: attempts per success counts every call (retries and fallback calls)
    # divided by the probability that the request succeeds.
    attempts_per_success = (
        result.expected_calls / result.success_probability if result.success_probability > 0 else Decimal(0)
    )
    reasons = sorted(stats.failures_by_description.items(), key=lambda item: (-item[1], item[0]))
    return SuccessCost(
        fixtures_read=stats.attempts,
        fixtures_skipped=stats.fixtures_skipped,
        failure_rate=estimate.rate,
        failure_rate_low=estimate.low,
        failure_rate_high=estimate.high,
        attempts_per_success=attempts_per_success,
        cost_per_attempt=cost_per_attempt,
        spend_per_request=result.spend_per_request,
        cost_per_success=result.cost_per_success,
        monthly_cost=result.spend_per_request * spec.requests_per_month,
        additional_calls_per_month=result.additional_calls * spec.requests_per_month,
        input_tokens_mean=input_mean,
        input_tokens_p95=stats.input_tokens.p95,
        output_tokens_mean=output_mean,
        output_tokens_p95=stats.output_tokens.p95,
        output_tokens_counted=stats.output_tokens_counted,
        failure_reasons=tuple(reasons[:MAX_REASONS_SHOWN]),
        skipped_locations=skipped,
    )
