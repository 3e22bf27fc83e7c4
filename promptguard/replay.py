"""Stream replayed attempts through a validator into constant-memory statistics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from promptguard.fixtures import Attempt, FixtureReader
from promptguard.validators import FailureReason

# Distinct failure descriptions counted one by one; later new ones are pooled
# per category, so memory stays bounded whatever the outputs contain.
MAX_DESCRIPTIONS = 200

# Record ids kept per failure description, as examples for the report.
MAX_EXAMPLES = 3

Validate = Callable[[Attempt], FailureReason | None]
InputTokenCounter = Callable[[Attempt], int | None]


@dataclass(frozen=True)
class TokenSummary:
    """Distribution of a token count over attempts; None fields when no attempt had a count."""

    count: int
    total: int
    mean: Decimal | None
    p50: int | None
    p95: int | None
    minimum: int | None
    maximum: int | None


class TokenHistogram:
    """Exact token-count distribution stored as value -> number of attempts.

    Memory grows with the number of distinct values, which is bounded by the
    model's maximum tokens, not with the number of attempts.
    """

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    def add(self, value: int) -> None:
        self.counts[value] += 1

    def percentile(self, percent: int) -> int | None:
        """Return the nearest-rank percentile: the least value with `percent`% of values <= it."""
        count = self.counts.total()
        if count == 0:
            return None
        # Integer ceiling division keeps the rank exact for any count.
        rank = max(1, -(-count * percent // 100))
        seen = 0
        for value in sorted(self.counts):
            seen += self.counts[value]
            if seen >= rank:
                return value
        raise AssertionError("rank beyond the histogram total")  # pragma: no cover

    def summary(self) -> TokenSummary:
        count = self.counts.total()
        total = sum(value * number for value, number in self.counts.items())
        return TokenSummary(
            count=count,
            total=total,
            mean=Decimal(total) / Decimal(count) if count else None,
            p50=self.percentile(50),
            p95=self.percentile(95),
            minimum=min(self.counts) if count else None,
            maximum=max(self.counts) if count else None,
        )


@dataclass(frozen=True)
class ReplayStats:
    """Outcome of replaying fixtures: counts, failure reasons and token distributions."""

    attempts: int
    failures: int
    failures_by_category: Mapping[str, int]
    failures_by_description: Mapping[str, int]
    # Up to MAX_EXAMPLES record ids per failure description.
    failure_examples: Mapping[str, tuple[str, ...]]
    fixtures_skipped: int
    input_tokens: TokenSummary
    output_tokens: TokenSummary
    # Attempts whose output tokens came from the tokenizer because usage was missing.
    output_tokens_counted: int
    # Attempts with neither a rendered-prompt count nor recorded input usage.
    input_tokens_missing: int

    @property
    def failure_rate(self) -> Decimal | None:
        """Failed attempts over all attempts, or None when there were no attempts."""
        if self.attempts == 0:
            return None
        return Decimal(self.failures) / Decimal(self.attempts)


class ReplayAccumulator:
    """Running statistics of replayed attempts; feed it attempts, then call `result()`."""

    def __init__(self, validate: Validate, count_input_tokens: InputTokenCounter | None = None) -> None:
        self._validate = validate
        self._count_input_tokens = count_input_tokens
        self.attempts = 0
        self.skipped = 0
        self.output_tokens_counted = 0
        self.input_tokens_missing = 0
        self.by_category: Counter[str] = Counter()
        self.by_description: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.input_tokens = TokenHistogram()
        self.output_tokens = TokenHistogram()

    def add(self, attempt: Attempt) -> FailureReason | None:
        """Validate one attempt and count it; returns its failure reason, if any."""
        self.attempts += 1
        self._add_tokens(attempt)
        reason = self._validate(attempt)
        if reason is not None:
            self._add_failure(reason, attempt.record_id)
        return reason

    def add_all(self, attempts: Iterable[Attempt]) -> None:
        """Add every attempt; a `FixtureReader` also adds its skipped-record count."""
        for attempt in attempts:
            self.add(attempt)
        if isinstance(attempts, FixtureReader):
            self.skipped += attempts.skipped_count

    def _add_tokens(self, attempt: Attempt) -> None:
        input_tokens = None
        if self._count_input_tokens is not None:
            input_tokens = self._count_input_tokens(attempt)
        if input_tokens is None:
            input_tokens = attempt.input_tokens
        if input_tokens is None:
            self.input_tokens_missing += 1
        else:
            self.input_tokens.add(input_tokens)

        if attempt.output_tokens is not None:
            self.output_tokens.add(attempt.output_tokens)
            if attempt.output_tokens_counted:
                self.output_tokens_counted += 1

    def _add_failure(self, reason: FailureReason, record_id: str) -> None:
        self.by_category[reason.category.value] += 1
        description = reason.description
        if description not in self.by_description and len(self.by_description) >= MAX_DESCRIPTIONS:
            description = f"{reason.category.value}: other descriptions"
        self.by_description[description] += 1
        examples = self.examples.setdefault(description, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(record_id)

    def result(self) -> ReplayStats:
        return ReplayStats(
            attempts=self.attempts,
            failures=self.by_category.total(),
            failures_by_category=dict(self.by_category),
            failures_by_description=dict(self.by_description),
            failure_examples={key: tuple(ids) for key, ids in self.examples.items()},
            fixtures_skipped=self.skipped,
            input_tokens=self.input_tokens.summary(),
            output_tokens=self.output_tokens.summary(),
            output_tokens_counted=self.output_tokens_counted,
            input_tokens_missing=self.input_tokens_missing,
        )


def replay(
    attempts: Iterable[Attempt],
    validate: Validate,
    count_input_tokens: InputTokenCounter | None = None,
) -> ReplayStats:
    """Validate every attempt and summarise them in memory that does not grow with their number.

    `count_input_tokens(attempt)` gives the input tokens of the prompt rendered
    with the attempt's variables; when it is absent or returns None, the
    recorded usage is used.
    """
    accumulator = ReplayAccumulator(validate, count_input_tokens)
    accumulator.add_all(attempts)
    return accumulator.result()
