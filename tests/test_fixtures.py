"""Tests for the fixture readers: every supported format, gzip, skipping and strict mode."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from promptguard.errors import FixtureError
from promptguard.fixtures import Attempt, FixtureReader, TokenCounter, read_attempts
from promptguard.fixtures.reader import MAX_STORED_SKIPPED

DATA = Path(__file__).parent / "data" / "fixtures"
REAL_CASSETTES = Path(__file__).parents[2] / "shared" / "real" / "cassettes"
needs_real_cassettes = pytest.mark.skipif(
    not REAL_CASSETTES.is_dir(), reason=f"recorded cassettes not found at {REAL_CASSETTES}"
)
SCHEMA = Path(__file__).parents[1] / "promptguard" / "schemas" / "fixture.schema.json"


def count_words(text: str) -> int:
    return len(text.split())


def read_bytes(
    name: str,
    data: bytes,
    *,
    strict: bool = False,
    count_tokens: TokenCounter | None = None,
) -> tuple[FixtureReader, list[Attempt]]:
    reader = read_attempts(name, io.BytesIO(data), strict=strict, count_tokens=count_tokens)
    return reader, list(reader)


def read_file(
    path: Path, *, strict: bool = False, count_tokens: TokenCounter | None = None
) -> tuple[FixtureReader, list[Attempt]]:
    return read_bytes(path.name, path.read_bytes(), strict=strict, count_tokens=count_tokens)


# Figures below were read by eye from the cassettes (gzip bodies decoded by hand):
# record id, input, output, cache read, cache write, finish reason, tool calls, model.
REAL_CASSETTE_FIGURES = {
    "anthropic/test_prompt.yaml": [
        ("msg_017A4s3HAsrqf5d2WvBmrpLr", 17, 10, 0, 0, "stop", 0, "claude-sonnet-4-5-20250929"),
    ],
    "anthropic/test_schema_prompt.yaml": [
        ("msg_01HGSyDK4y9Spcd6ySQumMNC", 230, 94, 0, 0, "stop", 0, "claude-sonnet-4-5-20250929"),
    ],
    "anthropic/test_tools.yaml": [
        (
            "msg_01V2noLbAb2NgKnjaNw6Cn3w",
            542,
            62,
            0,
            0,
            "tool_calls",
            2,
            "claude-haiku-4-5-20251001",
        ),
        ("msg_01XMATm4UFnjP841TckVuNF4", 678, 82, 0, 0, "stop", 0, "claude-haiku-4-5-20251001"),
    ],
    "openai/test_responses_basic_non_streaming.yaml": [
        (
            "resp_08ddf351751647d60169fab1b8a7ac81a081b9e2400e87fb63",
            11,
            5,
            0,
            None,
            "stop",
            0,
            "gpt-5.5-2026-04-23",
        ),
    ],
    "openai/test_tool_use_basic.yaml": [
        (
            "chatcmpl-BWlJBDk2xe66hjff60joVYpXi1hh4",
            54,
            20,
            0,
            None,
            "tool_calls",
            1,
            "gpt-4o-mini-2024-07-18",
        ),
        (
            "chatcmpl-BWlJCN7VZTtSHROczp0AbrjFGhRMA",
            87,
            26,
            0,
            None,
            "stop",
            0,
            "gpt-4o-mini-2024-07-18",
        ),
    ],
}


@needs_real_cassettes
def test_real_cassettes_all_listed() -> None:
    found = {path.relative_to(REAL_CASSETTES).as_posix() for path in REAL_CASSETTES.glob("*/*.yaml")}
    assert found == set(REAL_CASSETTE_FIGURES)


@needs_real_cassettes
@pytest.mark.parametrize("relative", sorted(REAL_CASSETTE_FIGURES))
def test_real_cassette_usage(relative: str) -> None:
    reader, attempts = read_file(REAL_CASSETTES / relative)

    assert reader.format == "vcr-cassette"
    assert reader.skipped_count == 0
    figures = [
        (
            attempt.record_id,
            attempt.input_tokens,
            attempt.output_tokens,
            attempt.cache_read_tokens,
            attempt.cache_write_tokens,
            attempt.finish_reason,
            attempt.tool_calls,
            attempt.model,
        )
        for attempt in attempts
    ]
    assert figures == REAL_CASSETTE_FIGURES[relative]
    for number, attempt in enumerate(attempts, start=1):
        assert attempt.status == 200
        assert attempt.location == f"{Path(relative).name}:interaction {number}"
        assert attempt.output_tokens_counted is False
        assert attempt.source_format == "vcr-cassette"


@needs_real_cassettes
def test_real_cassette_streamed_text_joined() -> None:
    _, attempts = read_file(REAL_CASSETTES / "anthropic" / "test_prompt.yaml")
    assert attempts[0].output == "- Captain\n- Scoop"


@needs_real_cassettes
def test_real_cassette_gzip_body_decoded() -> None:
    _, attempts = read_file(REAL_CASSETTES / "openai" / "test_responses_basic_non_streaming.yaml")
    assert attempts[0].output == "pong"


@needs_real_cassettes
def test_real_cassette_gzip_file() -> None:
    data = gzip.compress((REAL_CASSETTES / "anthropic" / "test_tools.yaml").read_bytes())
    reader, attempts = read_bytes("test_tools.yaml.gz", data)
    assert reader.format == "vcr-cassette"
    assert [attempt.input_tokens for attempt in attempts] == [542, 678]


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_promptguard_jsonl_records() -> None:
    reader, attempts = read_file(DATA / "promptguard.jsonl", count_tokens=count_words)

    assert reader.format == "promptguard-jsonl"
    assert [attempt.record_id for attempt in attempts] == [
        "ticket-1042",
        "ticket-1043",
        "ticket-1044",
        "ticket-1045",
        "ticket-1048",
        "promptguard.jsonl:9",
    ]
    first = attempts[0]
    assert first.location == "promptguard.jsonl:1"
    assert first.input_tokens == 412
    assert first.output_tokens == 14
    assert first.cache_read_tokens == 256
    assert first.status == 200
    assert first.latency_ms == 812.5
    assert first.variables == {"ticket": "Printer on floor 3 is jammed again"}
    assert first.output_tokens_counted is False


def test_promptguard_jsonl_timeout_and_length() -> None:
    _, attempts = read_file(DATA / "promptguard.jsonl")
    timeout = attempts[2]
    truncated = attempts[3]
    assert timeout.output is None
    assert timeout.status == "timeout"
    assert truncated.finish_reason == "length"
    assert truncated.location == "promptguard.jsonl:5"


def test_promptguard_jsonl_counts_missing_usage() -> None:
    _, attempts = read_file(DATA / "promptguard.jsonl", count_tokens=count_words)
    counted = attempts[4]
    assert counted.output == '{"category": "network", "priority": "low"}'
    assert counted.output_tokens == 4
    assert counted.output_tokens_counted is True
    assert counted.input_tokens is None


def test_promptguard_jsonl_skips_bad_lines() -> None:
    reader, _ = read_file(DATA / "promptguard.jsonl")

    assert reader.skipped_count == 2
    assert [record.location for record in reader.skipped] == [
        "promptguard.jsonl:6",
        "promptguard.jsonl:7",
    ]
    assert reader.skipped[0].reason == (
        "missing required property 'output'; unexpected property 'ouput' (did you mean 'output'?)"
    )
    assert reader.skipped[1].reason.startswith("line is not valid JSON")


def test_skipped_reasons_never_quote_content() -> None:
    reader, _ = read_file(DATA / "promptguard.jsonl")
    for record in reader.skipped:
        assert "monitor" not in record.reason
        assert "Email bounces" not in record.reason


def test_strict_mode_raises_at_first_bad_line() -> None:
    with pytest.raises(FixtureError) as raised:
        read_file(DATA / "promptguard.jsonl", strict=True)
    assert raised.value.location == "promptguard.jsonl:6"
    assert "missing required property 'output'" in str(raised.value)
    assert raised.value.fix is not None


def test_schema_type_error_names_field() -> None:
    line = b'{"output": "ok", "usage": {"input_tokens": -3}, "status": "late"}\n'
    reader, attempts = read_bytes("bad.jsonl", line)
    assert attempts == []
    reason = reader.skipped[0].reason
    assert "'usage.input_tokens'" in reason
    assert "'status'" in reason


def test_invalid_utf8_line_skipped() -> None:
    data = b'{"output": "fine"}\n{"output": "\xff\xfe"}\n{"output": "also fine"}\n'
    reader, attempts = read_bytes("mixed.jsonl", data)
    assert [attempt.output for attempt in attempts] == ["fine", "also fine"]
    assert reader.skipped[0].location == "mixed.jsonl:2"
    assert "UTF-8" in reader.skipped[0].reason


def test_skipped_list_capped_count_exact() -> None:
    lines = b"".join(b'{"output": "ok"}\n' if n == 0 else b"{broken\n" for n in range(250))
    reader, attempts = read_bytes("many.jsonl", lines)
    assert len(attempts) == 1
    assert reader.skipped_count == 249
    assert len(reader.skipped) == MAX_STORED_SKIPPED


def test_gzip_jsonl_decompressed() -> None:
    data = gzip.compress((DATA / "promptguard.jsonl").read_bytes())
    reader, attempts = read_bytes("promptguard.jsonl.gz", data)
    assert reader.format == "promptguard-jsonl"
    assert len(attempts) == 6


def test_truncated_gzip_raises() -> None:
    data = gzip.compress((DATA / "promptguard.jsonl").read_bytes())[:-30]
    with pytest.raises(FixtureError, match="gzip"):
        read_bytes("cut.jsonl.gz", data)


class CountingStream(io.RawIOBase):
    """A stream that records how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._data.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def test_jsonl_read_lazily() -> None:
    line = b'{"output": "' + b"x" * 200 + b'", "usage": {"output_tokens": 1}}\n'
    data = line * 10_000
    stream = CountingStream(data)
    reader = read_attempts("big.jsonl", stream)  # type: ignore[arg-type]

    first = next(iter(reader))

    assert first.output_tokens == 1
    assert stream.bytes_read < len(data) // 10


def test_reader_single_pass() -> None:
    reader, _ = read_file(DATA / "openai_chat.jsonl")
    with pytest.raises(RuntimeError, match="already read"):
        iter(reader)


def test_openai_chat_body() -> None:
    reader, attempts = read_file(DATA / "openai_chat.json")
    assert reader.format == "openai-chat"
    (attempt,) = attempts
    assert attempt.record_id == "chatcmpl-AzR4nq8Ybq1TDaVvQ3wNkZ6xJ2pHs"
    assert attempt.location == "openai_chat.json:1"
    assert attempt.input_tokens == 1187
    assert attempt.output_tokens == 15
    assert attempt.cache_read_tokens == 1024
    assert attempt.finish_reason == "stop"
    assert attempt.refusal is False


def test_openai_chat_lines_refusal_length_tools() -> None:
    _, attempts = read_file(DATA / "openai_chat.jsonl")
    refused, truncated, tool_call = attempts
    assert refused.refusal is True
    assert refused.output == ""
    assert truncated.finish_reason == "length"
    assert truncated.cache_read_tokens == 1152
    assert tool_call.finish_reason == "tool_calls"
    assert tool_call.tool_calls == 1


def test_openai_chat_stream_without_usage() -> None:
    reader, attempts = read_file(DATA / "openai_chat_stream.txt", count_tokens=count_words)
    assert reader.format == "openai-chat"
    (attempt,) = attempts
    assert attempt.output == '{"category": "network"}'
    assert attempt.input_tokens is None
    assert attempt.output_tokens == 2
    assert attempt.output_tokens_counted is True
    assert attempt.finish_reason == "stop"


def test_openai_responses_incomplete_is_length() -> None:
    reader, attempts = read_file(DATA / "openai_responses.json")
    assert reader.format == "openai-responses"
    (attempt,) = attempts
    assert attempt.finish_reason == "length"
    assert attempt.input_tokens == 2048
    assert attempt.output_tokens == 64
    assert attempt.cache_read_tokens == 1920


def test_openai_responses_stream_completed() -> None:
    reader, attempts = read_file(DATA / "openai_responses_stream.txt")
    assert reader.format == "openai-responses"
    (attempt,) = attempts
    assert attempt.record_id == "resp_68af2c1e5b3c8193a4c1d2e3f4a5b6c70d8e9f0a1b2c3d4e"
    assert attempt.output == "Refund approved"
    assert attempt.input_tokens == 318
    assert attempt.output_tokens == 3


def test_openai_responses_stream_cut_off() -> None:
    text = (DATA / "openai_responses_stream.txt").read_text()
    cut = text[: text.index("event: response.completed")]
    _, attempts = read_bytes("cut.txt", cut.encode())
    (attempt,) = attempts
    assert attempt.output == "Refund approved"
    assert attempt.output_tokens is None
    assert attempt.finish_reason is None


def test_openai_batch_lines() -> None:
    reader, attempts = read_file(DATA / "openai_batch.jsonl")
    assert reader.format == "openai-batch"
    ok, limited, expired = attempts
    assert ok.record_id == "faq-0001"
    assert ok.status == 200
    assert ok.input_tokens == 96
    assert ok.source_format == "openai-batch"
    assert limited.record_id == "faq-0002"
    assert limited.status == 429
    assert limited.output is None
    assert expired.status == "batch_expired"
    assert expired.output is None


def test_anthropic_message_cache_tokens() -> None:
    reader, attempts = read_file(DATA / "anthropic_message.json")
    assert reader.format == "anthropic"
    (attempt,) = attempts
    assert attempt.input_tokens == 52
    assert attempt.cache_read_tokens == 2188
    assert attempt.cache_write_tokens == 0
    assert attempt.output_tokens == 21


def test_anthropic_refusal_and_error() -> None:
    _, attempts = read_file(DATA / "anthropic_messages.jsonl")
    refused, overloaded = attempts
    assert refused.refusal is True
    assert refused.finish_reason == "refusal"
    assert refused.cache_write_tokens == 1408
    assert overloaded.output is None
    assert overloaded.status == "overloaded_error"
    assert overloaded.record_id == "req_011CSHoEeqs5C35K2UUqR7Fy"


def test_anthropic_stream_max_tokens() -> None:
    _, attempts = read_file(DATA / "anthropic_stream.txt")
    (attempt,) = attempts
    assert attempt.finish_reason == "length"
    assert attempt.output == "Dear customer, thank you for your patience while we"
    assert attempt.input_tokens == 1830
    assert attempt.cache_read_tokens == 1792
    assert attempt.output_tokens == 12


def test_anthropic_stream_error_event() -> None:
    text = (
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_01A",'
        '"type":"message","model":"claude-3-5-haiku-20241022","content":[],'
        '"usage":{"input_tokens":10,"output_tokens":1}}}\n\n'
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        '"message":"Overloaded"}}\n\n'
    )
    _, attempts = read_bytes("error.txt", text.encode())
    (attempt,) = attempts
    assert attempt.output is None
    assert attempt.status == "overloaded_error"


def test_cassette_parsed_bodies_and_errors() -> None:
    reader, attempts = read_file(DATA / "cassette_parsed.yaml")
    parsed_body, yaml_mapping, rate_limited = attempts
    assert parsed_body.record_id == "chatcmpl-BKm2Rq6wZx8YvT1nLc3pHd5sFa9Ge"
    assert parsed_body.output_tokens == 7
    assert yaml_mapping.record_id == "msg_01Tn4Vx8QbR2Lm6kZp9Wc3Hs"
    assert yaml_mapping.input_tokens == 81
    assert rate_limited.status == 429
    assert rate_limited.output is None
    assert [record.location for record in reader.skipped] == ["cassette_parsed.yaml:interaction 4"]


def test_json_cassette_read() -> None:
    document = {
        "interactions": [
            {
                "request": {"uri": "https://api.openai.com/v1/chat/completions"},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "body": {"string": (DATA / "openai_chat.json").read_text()},
                },
            }
        ],
        "version": 1,
    }
    reader, attempts = read_bytes("cassette.json", json.dumps(document, indent=2).encode())
    assert reader.format == "vcr-cassette"
    assert attempts[0].input_tokens == 1187


def test_promptfoo_v3_results() -> None:
    reader, attempts = read_file(DATA / "promptfoo_v3.json")
    assert reader.format == "promptfoo"
    passed, failed_assert, timed_out = attempts
    assert passed.record_id == "0195e7a4-2c1b-7d3e-9f4a-6b8c0d2e4f61"
    assert passed.location == "promptfoo_v3.json:result 1"
    assert passed.input_tokens == 118
    assert passed.output_tokens == 13
    assert passed.model == "gpt-4o-mini"
    assert passed.latency_ms == 734.0
    assert passed.variables == {"ticket": "Cannot print from the finance laptop"}
    assert failed_assert.output == "Category: access"
    assert timed_out.output is None
    assert timed_out.status == "error"


def test_promptfoo_v2_results() -> None:
    reader, attempts = read_file(DATA / "promptfoo_v2.json")
    assert reader.format == "promptfoo"
    assert attempts[0].model == "claude-3-haiku-20240307"
    assert attempts[0].output_tokens == 7


def test_empty_file_raises() -> None:
    with pytest.raises(FixtureError, match="empty"):
        read_bytes("empty.jsonl", b"\n\n")


def test_unknown_format_raises() -> None:
    with pytest.raises(FixtureError, match="cannot tell the fixture format") as raised:
        read_bytes("notes.txt", b"just some notes\n")
    assert raised.value.location == "notes.txt"


def test_broken_json_document_raises() -> None:
    with pytest.raises(FixtureError, match="not valid JSON") as raised:
        read_bytes("broken.json", b'{\n  "results": [\n    {"a": 1,,}\n  ]\n}\n')
    assert raised.value.location == "broken.json:3"


def test_broken_yaml_cassette_raises() -> None:
    with pytest.raises(FixtureError, match="not valid YAML"):
        read_bytes("broken.yaml", b"interactions:\n- request: [unclosed\n")


def test_cassette_alias_bomb_rejected() -> None:
    # Nine levels of nine aliases each describe 9**9 items in a few hundred bytes.
    lines = ["interactions: []", "bomb:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"  a{level}: &a{level} [{', '.join([previous] * 9)}]")
    with pytest.raises(FixtureError, match="cassette rejected: YAML aliases expand"):
        read_bytes("bomb.yaml", ("\n".join(lines) + "\n").encode())


def test_cassette_with_control_character_rejected() -> None:
    with pytest.raises(FixtureError, match="control character U\\+001F"):
        read_bytes("control.yaml", b"interactions:\n\x1f\x8b")


@pytest.mark.skipif(importlib.util.find_spec("fastjsonschema") is None, reason="fastjsonschema is not installed")
def test_fast_check_reads_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptguard.fixtures import jsonl

    assert jsonl.fast_fixture_check() is not None
    fast_reader, fast_attempts = read_file(DATA / "promptguard.jsonl")
    monkeypatch.setattr(jsonl, "fast_fixture_check", lambda: None)
    plain_reader, plain_attempts = read_file(DATA / "promptguard.jsonl")

    assert fast_attempts == plain_attempts
    assert fast_reader.skipped == plain_reader.skipped
    assert fast_reader.skipped_count == 2
