"""List prices from genai-prices and the on-disk cache of flat rates by range of price dates."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from genai_prices.types import ConditionalPrice, ModelPrice, StartDateConstraint, TimeOfDateConstraint

from promptguard.pricing import PriceBook, RateCache, price_validity
from promptguard.tokencache import default_cache_dir

DAY = datetime.date
FLAT = ModelPrice(input_mtok=Decimal("1"), output_mtok=Decimal("2"))
RAISED = ModelPrice(input_mtok=Decimal("3"), output_mtok=Decimal("4"))


def genai_cost(provider: str, model: str, day: datetime.date, input_tokens: int, output_tokens: int) -> Decimal:
    timestamp = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    total: Decimal = calc_price(
        usage, model_ref=model, provider_id=provider, genai_request_timestamp=timestamp
    ).total_price
    return total


def rate_file() -> dict[str, list[dict[str, object]]]:
    paths = list(default_cache_dir().glob("rates-v2-genai-prices-*.json"))
    assert len(paths) == 1
    loaded: dict[str, list[dict[str, object]]] = json.loads(paths[0].read_text(encoding="utf-8"))
    return loaded


def test_single_price_has_no_bounds() -> None:
    assert price_validity(FLAT, DAY(2026, 12, 1)) == (None, None)


def test_start_dates_bound_range() -> None:
    prices = [
        ConditionalPrice(prices=FLAT),
        ConditionalPrice(constraint=StartDateConstraint(DAY(2026, 3, 13)), prices=RAISED),
        ConditionalPrice(constraint=StartDateConstraint(DAY(2026, 9, 1)), prices=FLAT),
    ]

    assert price_validity(prices, DAY(2026, 1, 1)) == (None, DAY(2026, 3, 13))
    assert price_validity(prices, DAY(2026, 3, 13)) == (DAY(2026, 3, 13), DAY(2026, 9, 1))
    assert price_validity(prices, DAY(2026, 12, 1)) == (DAY(2026, 9, 1), None)


def test_time_of_day_price_not_stored() -> None:
    prices = [
        ConditionalPrice(prices=FLAT),
        ConditionalPrice(
            constraint=TimeOfDateConstraint(start_time=datetime.time(16, 30), end_time=datetime.time(0, 30)),
            prices=RAISED,
        ),
    ]

    assert price_validity(prices, DAY(2026, 12, 1)) is None


def test_rates_reused_inside_range() -> None:
    # In genai-prices 0.2.3, claude-opus-4-6 has a price from 2026-03-13 on and no later change.
    # A later release may add one, so only the start of the range is fixed here.
    first = PriceBook({}, DAY(2026, 11, 30)).request_cost("anthropic/claude-opus-4-6", 1_000, 500)
    stored = rate_file()["anthropic/claude-opus-4-6"]
    second = PriceBook({}, DAY(2026, 12, 4)).request_cost("anthropic/claude-opus-4-6", 1_000, 500)

    assert first == genai_cost("anthropic", "claude-opus-4-6", DAY(2026, 11, 30), 1_000, 500)
    assert second == genai_cost("anthropic", "claude-opus-4-6", DAY(2026, 12, 4), 1_000, 500)
    assert len(stored) == 1
    assert stored[0]["from"] == "2026-03-13"
    assert stored[0]["until"] is None or str(stored[0]["until"]) > "2026-12-04"
    assert rate_file()["anthropic/claude-opus-4-6"] == stored


def test_each_range_stored_once() -> None:
    # In genai-prices 0.2.3, o3 costs $10/$40 per million tokens until 2025-06-09 and $2/$8 from 2025-06-10 on.
    days = [DAY(2025, 6, 1), DAY(2025, 6, 9), DAY(2025, 6, 10), DAY(2025, 7, 1)]
    costs = [PriceBook({}, day).request_cost("openai/o3", 1_000_000, 1_000_000) for day in days]

    assert costs == [Decimal(50), Decimal(50), Decimal(10), Decimal(10)]
    assert costs == [genai_cost("openai", "o3", day, 1_000_000, 1_000_000) for day in days]
    ranges = [(entry["from"], entry["until"]) for entry in rate_file()["openai/o3"]]
    assert ranges[0] == (None, "2025-06-10")
    assert ranges[1][0] == "2025-06-10"
    assert ranges[1][1] is None or str(ranges[1][1]) > "2025-07-01"
    assert len(ranges) == 2


def test_middle_range_has_both_bounds() -> None:
    # In genai-prices 0.2.3, mistral-large-4 changes price on 2026-10-20 and again on 2026-10-29.
    cost = PriceBook({}, DAY(2026, 10, 25)).request_cost("mistral/mistral-large-4", 1_000, 500)

    assert cost == genai_cost("mistral", "mistral-large-4", DAY(2026, 10, 25), 1_000, 500)
    ranges = [(entry["from"], entry["until"]) for entry in rate_file()["mistral/mistral-large-4"]]
    assert ranges == [("2026-10-20", "2026-10-29")]


@pytest.mark.parametrize("damage", ["not json", '{"gpt-4o": "x"}', '{"gpt-4o": [{"from": 5, "rates": []}]}'])
def test_damaged_rate_file_ignored(damage: str) -> None:
    cache = RateCache(DAY(2026, 12, 1))
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    cache.path.write_text(damage, encoding="utf-8")

    cost = PriceBook({}, DAY(2026, 12, 1)).request_cost("gpt-4o", 1_000, 500)

    assert cost == genai_cost("openai", "gpt-4o", DAY(2026, 12, 1), 1_000, 500)


def test_cached_range_skips_genai_prices_import() -> None:
    PriceBook({}, DAY(2025, 7, 1)).request_cost("openai/o3", 1_000, 500)
    script = (
        "import datetime, sys\n"
        "from promptguard.pricing import PriceBook\n"
        "cost = PriceBook({}, datetime.date(2025, 8, 15)).request_cost('openai/o3', 1_000, 500)\n"
        "print(cost, 'genai_prices' in sys.modules)\n"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    # $2 per million input and $8 per million output tokens: 0.002 + 0.004.
    assert result.stdout.split() == ["0.006", "False"]
