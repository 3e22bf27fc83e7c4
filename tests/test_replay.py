"""Tests for replay statistics: counts, failure reasons, exact percentiles and flat memory."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from promptguard.fixtures import Attempt, read_attempts
from promptguard.replay import MAX_DESCRIPTIONS, TokenHistogram, replay
from promptguard.validators import FailureCategory, FailureReason, OutputRules, OutputValidator

DATA = Path(__file__).parent / "data" / "fixtures"


def make_attempt(number: int, output: str = "ok", **fields: object) -> Attempt:
    return Attempt(record_id=f"r{number}", location=f"f.jsonl:{number}", output=output, **fields)  # type: ignore[arg-type]


def test_histogram_nearest_rank() -> None:
    histogram = TokenHistogram()
    for value in range(1, 21):
        histogram.add(value)

    summary = histogram.summary()

    # Nearest rank: p50 is the 10th of 20 sorted values, p95 the 19th.
    assert summary.p50 == 10
    assert summary.p95 == 19
    assert summary.mean == Decimal(210) / Decimal(20)
    assert summary.minimum == 1
    assert summary.maximum == 20
    assert summary.total == 210


def test_histogram_empty() -> None:
    summary = TokenHistogram().summary()
    assert summary.count == 0
    assert summary.mean is None
    assert summary.p50 is None


def test_histogram_single_value() -> None:
    histogram = TokenHistogram()
    histogram.add(7)
    assert histogram.percentile(50) == 7
    assert histogram.percentile(95) == 7


def test_replay_fixture_file() -> None:
    reader = read_attempts("promptguard.jsonl", io.BytesIO((DATA / "promptguard.jsonl").read_bytes()))
    validator = OutputValidator(OutputRules(output_format="json"))

    stats = replay(reader, validator.validate)

    assert stats.attempts == 6
    assert stats.fixtures_skipped == 2
    # ticket-1044 timed out, ticket-1045 was truncated, ticket-1048 got HTTP 429.
    assert stats.failures == 3
    assert stats.failures_by_category == {"transport": 2, "truncated": 1}
    assert stats.failures_by_description == {
        "transport: timeout": 1,
        "truncated: output stopped at the maximum output tokens": 1,
        "transport: HTTP 429": 1,
    }
    assert stats.failure_examples["transport: HTTP 429"] == ("ticket-1048",)
    assert stats.failure_rate == Decimal(3) / Decimal(6)
    assert stats.input_tokens.count == 3
    assert stats.input_tokens.p50 == 412
    assert stats.input_tokens_missing == 3


def test_count_input_tokens_overrides_usage() -> None:
    attempts = [make_attempt(1, input_tokens=100), make_attempt(2, input_tokens=200)]

    stats = replay(attempts, lambda attempt: None, lambda attempt: 1450)

    assert stats.input_tokens.total == 2900
    assert stats.input_tokens_missing == 0


def test_count_input_tokens_none_uses_usage() -> None:
    attempts = [make_attempt(1, input_tokens=100), make_attempt(2)]

    stats = replay(attempts, lambda attempt: None, lambda attempt: None)

    assert stats.input_tokens.total == 100
    assert stats.input_tokens_missing == 1


def test_counted_output_tokens_reported() -> None:
    attempts = [
        make_attempt(1, output_tokens=5),
        make_attempt(2, output_tokens=8, output_tokens_counted=True),
    ]
    stats = replay(attempts, lambda attempt: None)
    assert stats.output_tokens_counted == 1
    assert stats.output_tokens.total == 13


def test_descriptions_capped() -> None:
    def distinct_failure(attempt: Attempt) -> FailureReason:
        return FailureReason.of(FailureCategory.SCHEMA, f"missing property '{attempt.record_id}'")

    attempts = (make_attempt(number) for number in range(MAX_DESCRIPTIONS + 50))
    stats = replay(attempts, distinct_failure)

    assert len(stats.failures_by_description) == MAX_DESCRIPTIONS + 1
    assert stats.failures_by_description["schema: other descriptions"] == 50
    assert stats.failures == MAX_DESCRIPTIONS + 50


def generated_attempts(count: int) -> Iterator[Attempt]:
    for number in range(count):
        yield make_attempt(number, input_tokens=900 + number % 500, output_tokens=number % 300)


def peak_memory(count: int) -> int:
    tracemalloc.start()
    replay(generated_attempts(count), lambda attempt: None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_memory_flat_with_attempts() -> None:
    small = peak_memory(10_000)
    large = peak_memory(200_000)
    # Twenty times the attempts may not take twice the memory.
    assert large < 2 * small


def test_percentiles_exact_at_scale() -> None:
    stats = replay(generated_attempts(200_000), lambda attempt: None)
    # input tokens cycle 900..1399 evenly, 400 times each.
    assert stats.input_tokens.p50 == 1149
    assert stats.input_tokens.p95 == 1374
    assert stats.input_tokens.mean == Decimal("1149.5")
