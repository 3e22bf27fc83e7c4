"""Prices per request, from genai-prices' bundled data or from custom prices in the config.

Each request is priced on its own token counts, so tiered prices (a higher
rate past a context threshold) apply as the provider bills them. Nothing is
fetched: genai-prices' `UpdatePrices` is never started.
"""

from __future__ import annotations

import datetime
import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata

from promptguard.config import CustomPrice
from promptguard.errors import ModelError

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class PricingSource:
    """Where prices come from, named in every report."""

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
        self.price_date = price_date

    def source(self) -> PricingSource:
        try:
            version = metadata.version("genai-prices")
        except metadata.PackageNotFoundError:
            version = "not installed"
        return PricingSource("genai-prices", version, self.price_date)

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
                fix=f"{hint}or add [pricing.\"{model}\"] with input_per_million and output_per_million",
            ) from error
        total: Decimal = calculation.total_price
        return total


def _custom_cost(price: CustomPrice, input_tokens: int, output_tokens: int, cache_read_tokens: int) -> Decimal:
    cached_rate = price.cached_input_per_million if price.cached_input_per_million is not None else price.input_per_million
    uncached = input_tokens - cache_read_tokens
    return (
        Decimal(uncached) * price.input_per_million
        + Decimal(cache_read_tokens) * cached_rate
        + Decimal(output_tokens) * price.output_per_million
    ) / MILLION


@functools.cache
def known_models() -> tuple[str, ...]:
    """Return every model id in genai-prices' bundled data."""
    from genai_prices.data import providers

    return tuple(sorted({model.id for provider in providers for model in provider.models}))


def closest_models(model: str, count: int = 3) -> list[str]:
    """Return the known model ids closest to a misspelled name."""
    return difflib.get_close_matches(model.lower(), known_models(), n=count, cutoff=0.5)
