"""Property tests: any bytes give a result or a clean PromptguardError, and cost figures add up."""

from __future__ import annotations

import datetime
import importlib.util
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptguard import costmodel
from promptguard.config import CustomPrice, load_config
from promptguard.errors import PromptguardError
from promptguard.fixtures import read_attempts
from promptguard.formats import render_prompt
from promptguard.pricing import PriceBook
from tests.conftest import GitRepo

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PROMPT_NAMES = ["p/a.txt", "p/a.md", "p/a.j2", "p/a.json", "p/a.yaml", "p/a.prompty"]

# Bytes that look like the formats, so examples reach the parsers and not only the decoder.
format_fragments = st.sampled_from(
    [
        b"{{ x }}",
        b"{% for i in range(3) %}",
        b"{% endfor %}",
        b"---\n",
        b"- role: system\n  content: ",
        b"[",
        b"]",
        b'{"role": "user", "content": "',
        b'"}',
        b"&a ",
        b"*a ",
        b"\xef\xbb\xbf",
        b"\r\n",
        b"\x00",
        b"\xff",
        b"system:\n",
    ]
)
prompt_bytes = st.lists(st.one_of(st.binary(max_size=40), format_fragments), max_size=12).map(b"".join)


@FAST
@given(data=prompt_bytes, name=st.sampled_from(PROMPT_NAMES))
def test_any_prompt_bytes_render_or_fail_cleanly(data: bytes, name: str) -> None:
    try:
        rendered = render_prompt(data, name, variables={"x": "value"})
    except PromptguardError as error:
        assert str(error)
        return
    assert all(isinstance(message.content, str) for message in rendered.messages)


config_lines = st.sampled_from(
    [
        'model = "gpt-4o"',
        "requests_per_month = 5",
        "requests_per_month = -1",
        "[[prompts]]",
        'path = "p/*"',
        'path = "../x"',
        "[budgets]",
        "max_input_tokens = { fail = 10 }",
        "[pricing.m]",
        "input_per_million = 1.0",
        'include = ["a", 3]',
        "strict = true",
        'price_date = "2026-02-30"',
        "variables = { a = 1 }",
        "= broken",
    ]
)
config_text = st.one_of(
    st.lists(config_lines, max_size=8).map("\n".join).map(str.encode),
    st.binary(max_size=120),
)


@FAST
@given(content=config_text)
def test_any_config_loads_or_fails_cleanly(content: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("config")
    (root / "promptguard.toml").write_bytes(content)
    try:
        config = load_config(root, start=root)
    except PromptguardError as error:
        assert str(error)
        return
    assert config.requests_per_month >= 0


fixture_lines = st.sampled_from(
    [
        b'{"output": "ok", "usage": {"input_tokens": 3, "output_tokens": 2}}',
        b'{"output": null}',
        b'{"usage": 5}',
        b'{"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1}}',
        b"data: {}",
        b"interactions:",
        b"- request: {}",
        b'{"results": {"results": [1]}}',
        b"[",
        b"\x1f\x8b",
        b"\xff",
    ]
)
fixture_bytes = st.one_of(st.lists(fixture_lines, max_size=6).map(b"\n".join), st.binary(max_size=120))


@FAST
@given(data=fixture_bytes, strict=st.booleans())
def test_any_fixture_reads_or_fails_cleanly(data: bytes, strict: bool) -> None:
    try:
        reader = read_attempts("f.jsonl", io.BytesIO(data), strict=strict, count_tokens=len)
        attempts = list(reader)
    except PromptguardError as error:
        assert str(error)
        return
    for attempt in attempts:
        assert (attempt.input_tokens or 0) >= 0
        assert (attempt.output_tokens or 0) >= 0


# Cost figures move the right way.

PRICE_DATE = datetime.date(2026, 12, 1)
token_counts = st.integers(min_value=0, max_value=2_000_000)
rates = st.decimals(min_value=0, max_value=100, places=3)


@FAST
@given(
    input_tokens=token_counts,
    extra_input=token_counts,
    output_tokens=token_counts,
    extra_output=token_counts,
    input_rate=rates,
    output_rate=rates,
    extra_rate=rates,
)
def test_request_cost_monotonic(
    input_tokens: int,
    extra_input: int,
    output_tokens: int,
    extra_output: int,
    input_rate: Decimal,
    output_rate: Decimal,
    extra_rate: Decimal,
) -> None:
    def cost(input_per_million: Decimal, tokens_in: int, tokens_out: int) -> Decimal:
        book = PriceBook({"m": CustomPrice(input_per_million, output_rate)}, PRICE_DATE)
        return book.request_cost("m", tokens_in, tokens_out)

    base = cost(input_rate, input_tokens, output_tokens)
    assert base >= 0
    assert cost(input_rate, input_tokens + extra_input, output_tokens) >= base
    assert cost(input_rate, input_tokens, output_tokens + extra_output) >= base
    assert cost(input_rate + extra_rate, input_tokens, output_tokens) >= base


@FAST
@given(input_tokens=token_counts, extra=token_counts, model=st.sampled_from(["gpt-4o", "gpt-4o-mini", "gpt-4.1"]))
def test_list_price_monotonic_in_tokens(input_tokens: int, extra: int, model: str) -> None:
    book = PriceBook({}, PRICE_DATE)
    assert book.request_cost(model, input_tokens + extra, 300) >= book.request_cost(model, input_tokens, 300)


probabilities = st.decimals(min_value=0, max_value=1, places=4)


@FAST
@given(
    cost=st.decimals(min_value=0, max_value=10, places=6),
    rate=probabilities,
    higher=probabilities,
    retries=st.integers(min_value=0, max_value=5),
    fallback_rate=probabilities,
)
def test_route_spend_monotonic_in_failure_rate(
    cost: Decimal, rate: Decimal, higher: Decimal, retries: int, fallback_rate: Decimal
) -> None:
    low, high = sorted((rate, higher))
    fallback = costmodel.RouteInput(cost * 2, fallback_rate)
    at_low = costmodel.estimate_route(costmodel.RouteInput(cost, low, retries, fallback))
    at_high = costmodel.estimate_route(costmodel.RouteInput(cost, high, retries, fallback))
    assert at_high.spend_per_request >= at_low.spend_per_request
    assert at_high.expected_calls >= at_low.expected_calls
    assert at_high.success_probability <= at_low.success_probability
    if at_low.cost_per_success is not None and at_high.cost_per_success is not None:
        assert at_high.cost_per_success >= at_low.cost_per_success


# A total equals the sum of its parts, to the cent.

prompt_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=80)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(prompt_texts, min_size=1, max_size=4),
    traffic=st.lists(st.integers(min_value=1, max_value=10**9), min_size=4, max_size=4),
)
def test_totals_equal_sum_of_prompts(
    texts: list[str], traffic: list[int], tmp_path_factory: pytest.TempPathFactory, run_cli: Any
) -> None:
    repo = GitRepo(tmp_path_factory.mktemp("totals"))
    entries = "".join(
        f'[[prompts]]\npath = "prompts/p{index}.md"\nrequests_per_month = {traffic[index]}\n\n'
        for index in range(len(texts))
    )
    repo.write("promptguard.toml", f'model = "gpt-4o"\nprice_date = "2026-12-01"\n\n{entries}')
    for index in range(len(texts)):
        repo.write(f"prompts/p{index}.md", "base\n")
    repo.commit("base")
    for index, text in enumerate(texts):
        repo.write(f"prompts/p{index}.md", text)
    result = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "json"], repo.root)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)

    totals = document["totals"]
    head_sum = sum(Decimal(str(prompt["head"]["monthly_cost"])) for prompt in document["prompts"])
    base_sum = sum(Decimal(str(prompt["base"]["monthly_cost"])) for prompt in document["prompts"])
    cent = Decimal("0.01")
    assert Decimal(str(totals["head"]["monthly_cost"])).quantize(cent) == head_sum.quantize(cent)
    assert Decimal(str(totals["base"]["monthly_cost"])).quantize(cent) == base_sum.quantize(cent)
    assert Decimal(str(totals["monthly_cost_delta"])).quantize(cent) == (head_sum - base_sum).quantize(cent)
    assert totals["head"]["input_tokens"] == sum(prompt["head"]["input_tokens"] for prompt in document["prompts"])


# The optional fastjsonschema check of fixture records agrees with jsonschema.

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10, max_value=1_000),
    st.floats(allow_nan=False, min_value=-10, max_value=1_000),
    st.sampled_from(["", "ok", "timeout", "stop"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["a", "input_tokens"]), children),
    max_leaves=6,
)
# Values near the schema's limits (empty strings, negative counts, status 99 and
# 600, booleans as numbers). About 7 % of the records are valid.
FIXTURE_FIELDS = {
    "id": st.text(max_size=3),
    "variables": st.one_of(st.dictionaries(st.text(max_size=2), json_scalars, max_size=2), json_scalars),
    "output": st.one_of(st.none(), st.text(max_size=5), json_scalars),
    "usage": st.one_of(
        st.dictionaries(
            st.sampled_from(["input_tokens", "output_tokens", "cached_tokens", "total"]),
            st.one_of(st.integers(min_value=-2, max_value=10), json_scalars),
            max_size=3,
        ),
        json_scalars,
    ),
    "model": st.text(max_size=3),
    "finish_reason": st.one_of(st.text(max_size=3), json_scalars),
    "status": st.one_of(st.integers(min_value=98, max_value=601), st.just("timeout"), json_scalars),
    "latency_ms": st.one_of(st.floats(min_value=-1, max_value=1e4, allow_nan=False), json_scalars),
    "refusal": st.one_of(st.booleans(), json_scalars),
    "metadata": json_values,
    "unknown": json_scalars,
}
fixture_records = st.one_of(
    st.fixed_dictionaries(
        {"output": st.one_of(st.none(), st.text(max_size=5))},
        optional={name: values for name, values in FIXTURE_FIELDS.items() if name != "output"},
    ),
    st.fixed_dictionaries({}, optional=FIXTURE_FIELDS),
    json_values,
)


@pytest.mark.skipif(importlib.util.find_spec("fastjsonschema") is None, reason="fastjsonschema is not installed")
@settings(max_examples=1_000, deadline=None)
@given(record=fixture_records)
def test_fast_fixture_check_agrees(record: Any) -> None:
    from promptguard.fixtures.jsonl import fast_fixture_check, fixture_validator

    fast_check = fast_fixture_check()
    assert fast_check is not None
    assert fast_check(record) == fixture_validator().is_valid(record)
