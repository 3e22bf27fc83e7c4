"""Prices per request, from genai-prices' bundled data or from custom prices in the config.

Each request is priced on its own token counts, so tiered prices (a higher
rate past a context threshold) apply as the provider bills them. Nothing is
fetched: genai-prices' `UpdatePrices` is never started.

Importing genai-prices and loading its data took 0.2 to 0.3 s on the
benchmark machine (docs/benchmarks.md), more than the rest of a small check.
So the flat per-token rates of a model are kept on disk (`RateCache`), with
the range of price dates over which genai-prices selects the same price, and
a later run on any date in that range prices from them without the import.
Rates are stored only when they reproduce genai-prices' own result digit for
digit on a set of probe requests, and never for tiered prices.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptguard.config import CustomPrice
from promptguard.errors import ModelError

if TYPE_CHECKING:
    from genai_prices.types import ConditionalPrice, ModelPrice

logger = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
# The price keys of genai-prices charged per million input and output tokens.
# A request without cache, audio or tool use has a count of zero for every other key.
_INPUT_KEY = "input_mtok"
_OUTPUT_KEY = "output_mtok"
# (input tokens, output tokens) on which stored rates must give genai-prices'
# exact Decimal, including requests past common tier thresholds (128k, 200k, 1M).
_PROBES = ((0, 0), (1, 1), (1, 0), (0, 1), (987, 321), (128_001, 17), (200_001, 4_096), (1_000_001, 65_537))


@dataclass(frozen=True)
class PricingSource:
    """The source, version and date of the prices, named in every report."""

    source: str
    version: str
    price_date: datetime.date


class PriceBook:
    """Looks up and caches the price of one request for any model."""

    def __init__(
        self,
        custom: Mapping[str, CustomPrice],
        price_date: datetime.date,
        aliases: Mapping[str, str] | None = None,
    ):
        self._custom = dict(custom)
        self._aliases = dict(aliases or {})
        self._timestamp = datetime.datetime.combine(price_date, datetime.time(12), tzinfo=datetime.UTC)
        self._cache: dict[tuple[str, int, int, int], Decimal] = {}
        self._rates: RateCache | None = None
        self.price_date = price_date

    def source(self) -> PricingSource:
        return PricingSource("genai-prices", genai_prices_version(), self.price_date)

    def _resolve(self, model: str) -> str:
        seen: set[str] = set()
        while model in self._aliases and model not in seen and model not in self._custom:
            seen.add(model)
            model = self._aliases[model]
        return model

    def request_cost(self, model: str, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0) -> Decimal:
        """Return the cost in US dollars of one request with these token counts."""
        key = (model, input_tokens, output_tokens, cache_read_tokens)
        cached = self._cache.get(key)
        if cached is not None:
            return cached

        resolved = self._resolve(model)
        custom = self._custom.get(resolved)
        if custom is not None:
            cost = _custom_cost(custom, input_tokens, output_tokens, cache_read_tokens)
        else:
            cost = self._list_price(model, resolved, input_tokens, output_tokens, cache_read_tokens)
        self._cache[key] = cost
        return cost

    def check_model(self, model: str) -> None:
        """Raise ModelError naming the closest known models if `model` has no price."""
        self.request_cost(model, 1, 1)

    def _list_price(
        self, model: str, resolved: str, input_tokens: int, output_tokens: int, cache_read_tokens: int
    ) -> Decimal:
        if self._rates is None:
            self._rates = RateCache(self.price_date)
        rates = self._rates.get(resolved) if cache_read_tokens == 0 else None
        if rates is not None:
            return flat_cost(rates, input_tokens, output_tokens)

        calculation = self._calculate(model, resolved, input_tokens, output_tokens, cache_read_tokens)
        if cache_read_tokens == 0:
            rates = flat_rates(calculation.model_price)
            validity = price_validity(calculation.model.prices, self.price_date)
            if rates is not None and validity is not None and self._reproduces(resolved, rates):
                self._rates.put(resolved, rates, validity)
        total: Decimal = calculation.total_price
        return total

    def _reproduces(self, resolved: str, rates: Sequence[tuple[str, Decimal]]) -> bool:
        """Return whether flat rates give genai-prices' exact result on every probe request."""
        for input_tokens, output_tokens in _PROBES:
            expected: Decimal = self._calculate(resolved, resolved, input_tokens, output_tokens, 0).total_price
            if flat_cost(rates, input_tokens, output_tokens).as_tuple() != expected.as_tuple():
                logger.debug(
                    "rates of %s not stored: they differ from genai-prices at %s input tokens", resolved, input_tokens
                )
                return False
        return True

    def _calculate(
        self, model: str, resolved: str, input_tokens: int, output_tokens: int, cache_read_tokens: int
    ) -> Any:
        """Return genai-prices' `PriceCalculation` for one request, or raise ModelError for an unknown model."""
        from genai_prices import Usage, calc_price

        provider_id, _, model_ref = resolved.rpartition("/")
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read_tokens)
        try:
            calculation = calc_price(
                usage,
                model_ref=model_ref if provider_id else resolved,
                provider_id=provider_id or None,
                genai_request_timestamp=self._timestamp,
            )
        except LookupError as error:
            suggestions = closest_models(resolved)
            hint = f"closest known: {', '.join(suggestions)}; " if suggestions else ""
            raise ModelError(
                f"unknown model {model!r}: no price in genai-prices {self.source().version}",
                fix=f'{hint}or add [pricing."{model}"] with input_per_million and output_per_million',
            ) from error
        return calculation


def _custom_cost(price: CustomPrice, input_tokens: int, output_tokens: int, cache_read_tokens: int) -> Decimal:
    cached_rate = (
        price.cached_input_per_million if price.cached_input_per_million is not None else price.input_per_million
    )
    uncached = input_tokens - cache_read_tokens
    return (
        Decimal(uncached) * price.input_per_million
        + Decimal(cache_read_tokens) * cached_rate
        + Decimal(output_tokens) * price.output_per_million
    ) / MILLION


@functools.cache
def genai_prices_version() -> str:
    try:
        return metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        return "not installed"


def flat_rates(price: ModelPrice) -> list[tuple[str, Decimal]] | None:
    """Return a model's (price key, flat price) pairs in genai-prices' order, or None for tiered prices.

    Whether the other keys really cost nothing for a plain request is left to
    the probes of `PriceBook._reproduces`.
    """
    rates: list[tuple[str, Decimal]] = []
    for key, value in vars(price).items():
        if key.startswith("_") or value is None:
            continue
        if not isinstance(value, Decimal):
            return None
        rates.append((key, value))
    return rates


def flat_cost(rates: Sequence[tuple[str, Decimal]], input_tokens: int, output_tokens: int) -> Decimal:
    """Price one request from flat rates with genai-prices' arithmetic, term by term in its order.

    The order and the zero terms matter: they set the exponent of the Decimal
    result, so the figure prints exactly as genai-prices' own. A zero term has
    the same exponent whatever the key's unit (per million, per thousand),
    so every key other than input and output is computed as zero per million.
    """
    counts = {_INPUT_KEY: input_tokens, _OUTPUT_KEY: output_tokens}
    total = Decimal(0)
    for key, rate in rates:
        total += rate * Decimal(counts.get(key, 0)) / 1_000_000
    return total


# A range of price dates: the first date in it and the first date after it, None for no bound.
Validity = tuple[datetime.date | None, datetime.date | None]


def price_validity(prices: ModelPrice | Sequence[ConditionalPrice], price_date: datetime.date) -> Validity | None:
    """Return the dates around `price_date` over which genai-prices selects the same price of a model.

    genai-prices' `ModelInfo.get_prices` takes the last of a model's
    conditional prices whose constraint is active. With start-date
    constraints only, that choice can change only on a start date, so the
    range runs from the last start date on or before `price_date` to the
    first one after it. A time-of-day constraint makes the price depend on
    the hour, so no range is returned and nothing is stored.
    """
    from genai_prices.types import ModelPrice, StartDateConstraint

    if isinstance(prices, ModelPrice):
        return None, None
    starts: list[datetime.date] = []
    for conditional in prices:
        if conditional.constraint is None:
            continue
        if not isinstance(conditional.constraint, StartDateConstraint):
            return None
        starts.append(conditional.constraint.start_date)
    first = max((start for start in starts if start <= price_date), default=None)
    after = min((start for start in starts if start > price_date), default=None)
    return first, after


class RateCache:
    """Flat rates per model and range of price dates, in a JSON file per genai-prices version.

    The file maps a model name to a list of entries, each with `from` and
    `until` dates (ISO strings, or null for no bound) and the rates. A file
    that cannot be read or written is ignored (logged at debug level), and
    prices then come from genai-prices itself.
    """

    def __init__(self, price_date: datetime.date):
        from promptguard.tokencache import default_cache_dir

        self.path = default_cache_dir() / f"rates-v2-genai-prices-{genai_prices_version()}.json"
        self.price_date = price_date.isoformat()
        self._entries: dict[str, list[dict[str, Any]]] | None = None

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        if self._entries is None:
            self._entries = {}
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                if not isinstance(error, FileNotFoundError):
                    logger.debug("price rate cache %s ignored: %s", self.path, error)
                return self._entries
            if isinstance(loaded, dict):
                self._entries = loaded
        return self._entries

    def _covers(self, entry: Any) -> bool:
        """Return whether an entry's date range contains the price date; ISO dates compare as strings."""
        if not isinstance(entry, dict):
            return False
        first, until = entry.get("from"), entry.get("until")
        if not (first is None or isinstance(first, str)) or not (until is None or isinstance(until, str)):
            return False
        return (first is None or first <= self.price_date) and (until is None or self.price_date < until)

    def get(self, model: str) -> list[tuple[str, Decimal]] | None:
        entries = self._load().get(model)
        entry = next((e for e in entries if self._covers(e)), None) if isinstance(entries, list) else None
        if entry is None:
            return None
        try:
            rates = [(str(key), Decimal(str(rate))) for key, rate in entry.get("rates", [])]
        except (TypeError, ValueError, InvalidOperation):
            rates = []
        if not rates:
            logger.debug("price rate cache %s has an invalid entry for %s", self.path, model)
            return None
        return rates

    def put(self, model: str, rates: Sequence[tuple[str, Decimal]], validity: Validity) -> None:
        """Store one model's rates for a range of dates, replacing the file atomically."""
        entries = self._load()
        first, until = validity
        existing = entries.get(model)
        other_ranges = [entry for entry in existing if not self._covers(entry)] if isinstance(existing, list) else []
        other_ranges.append(
            {
                "from": first.isoformat() if first else None,
                "until": until.isoformat() if until else None,
                "rates": [[key, str(rate)] for key, rate in rates],
            }
        )
        entries[model] = other_ranges
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".rates-", dir=self.path.parent)
        except OSError as error:
            logger.debug("price rate cache %s not written: %s", self.path, error)
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entries, stream, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError as error:
            logger.debug("price rate cache %s not written: %s", self.path, error)
            Path(temporary).unlink(missing_ok=True)


@functools.cache
def known_models() -> tuple[str, ...]:
    """Return every model id in genai-prices' bundled data."""
    from genai_prices.data import providers

    return tuple(sorted({model.id for provider in providers for model in provider.models}))


def closest_models(model: str, count: int = 3) -> list[str]:
    """Return the known model ids closest to a misspelled name."""
    return difflib.get_close_matches(model.lower(), known_models(), n=count, cutoff=0.5)
