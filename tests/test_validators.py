"""Tests for output validators: transport, completion, JSON, schema, regex and length rules."""

from __future__ import annotations

import socket

import pytest

from promptguard.errors import ConfigError
from promptguard.fixtures import Attempt
from promptguard.validators import FailureCategory, OutputRules, OutputValidator

TICKET_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["category", "priority"],
    "properties": {
        "category": {"type": "string"},
        "priority": {"enum": ["low", "medium", "high"]},
    },
    "additionalProperties": False,
}


def attempt(output: str | None = '{"category": "hardware", "priority": "low"}', **fields: object) -> Attempt:
    return Attempt(record_id="ticket-1", location="fixtures.jsonl:1", output=output, **fields)  # type: ignore[arg-type]


def validator(**rules: object) -> OutputValidator:
    return OutputValidator(OutputRules(**rules))  # type: ignore[arg-type]


def test_plain_output_passes() -> None:
    assert validator().validate(attempt("Thanks, we have received your ticket.")) is None


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"status": 429}, "transport: HTTP 429"),
        ({"status": 503}, "transport: HTTP 503"),
        ({"status": 404}, "transport: HTTP 404"),
        ({"status": "timeout"}, "transport: timeout"),
        ({"status": "overloaded_error"}, "transport: overloaded_error"),
        ({"output": None}, "transport: no response recorded"),
    ],
)
def test_transport_failures(fields: dict[str, object], description: str) -> None:
    output = fields.pop("output", "ok")
    reason = validator().validate(attempt(output, **fields))  # type: ignore[arg-type]
    assert reason is not None
    assert reason.category is FailureCategory.TRANSPORT
    assert reason.description == description


def test_success_status_passes() -> None:
    assert validator().validate(attempt("ok", status=201)) is None


def test_refusal_fails() -> None:
    reason = validator().validate(attempt("", refusal=True))
    assert reason is not None
    assert reason.category is FailureCategory.REFUSAL


def test_content_filter_is_refusal() -> None:
    reason = validator().validate(attempt("partial", finish_reason="content_filter"))
    assert reason is not None
    assert reason.category is FailureCategory.REFUSAL


def test_length_finish_is_truncated() -> None:
    reason = validator().validate(attempt('{"category": "hard', finish_reason="length"))
    assert reason is not None
    assert reason.category is FailureCategory.TRUNCATED
    assert reason.description == "truncated: output stopped at the maximum output tokens"


@pytest.mark.parametrize("output", ["", "   \n"])
def test_empty_output_fails(output: str) -> None:
    reason = validator().validate(attempt(output))
    assert reason is not None
    assert reason.category is FailureCategory.EMPTY


def test_empty_output_with_tool_call_passes() -> None:
    assert validator().validate(attempt("", tool_calls=1, finish_reason="tool_calls")) is None


def test_json_format_rejects_prose() -> None:
    reason = validator(output_format="json").validate(attempt("Category: hardware"))
    assert reason is not None
    assert reason.category is FailureCategory.JSON
    assert reason.description == "json: output is not valid JSON (Expecting value)"
    assert "hardware" not in reason.description


def test_json_format_accepts_json() -> None:
    assert validator(output_format="json").validate(attempt()) is None


def test_schema_missing_property() -> None:
    reason = validator(output_schema=TICKET_SCHEMA).validate(attempt('{"category": "access"}'))
    assert reason is not None
    assert reason.category is FailureCategory.SCHEMA
    assert reason.description == "schema: missing required property 'priority'"


def test_schema_enum_hides_value() -> None:
    output = '{"category": "access", "priority": "URGENT-secret"}'
    reason = validator(output_schema=TICKET_SCHEMA).validate(attempt(output))
    assert reason is not None
    assert reason.description == "schema: value at 'priority' is not one of the allowed values"
    assert "secret" not in reason.description


def test_schema_type_error_names_path() -> None:
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
    }
    reason = validator(output_schema=schema).validate(attempt('{"tags": ["a", 7]}'))
    assert reason is not None
    assert reason.description == "schema: value at 'tags[1]' is not of type 'string'"


def test_schema_implies_json() -> None:
    reason = validator(output_schema=TICKET_SCHEMA).validate(attempt("not json"))
    assert reason is not None
    assert reason.category is FailureCategory.JSON


def test_schema_draft_from_dollar_schema() -> None:
    # Draft 4 reads exclusiveMaximum as a boolean, draft 2020-12 as a number.
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "maximum": 10,
        "exclusiveMaximum": True,
    }
    checker = validator(output_schema=schema)
    assert checker.validate(attempt("9")) is None
    reason = checker.validate(attempt("10"))
    assert reason is not None
    assert reason.category is FailureCategory.SCHEMA


def test_schema_local_ref_resolves() -> None:
    schema = {
        "$defs": {"priority": {"enum": ["low", "high"]}},
        "type": "object",
        "properties": {"priority": {"$ref": "#/$defs/priority"}},
    }
    checker = validator(output_schema=schema)
    assert checker.validate(attempt('{"priority": "low"}')) is None
    assert checker.validate(attempt('{"priority": "soon"}')) is not None


def test_schema_remote_ref_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    schema = {"properties": {"address": {"$ref": "https://example.com/schemas/address.json"}}}

    with pytest.raises(ConfigError, match="outside the schema file") as raised:
        OutputValidator(OutputRules(output_schema=schema), config_location="promptguard.toml")

    assert raised.value.location == "promptguard.toml"
    assert "https://example.com/schemas/address.json" in str(raised.value)
    assert "$defs" in str(raised.value)


def test_invalid_schema_rejected() -> None:
    with pytest.raises(ConfigError, match="not a valid JSON Schema"):
        validator(output_schema={"type": "objekt"})


def test_regex_uses_search() -> None:
    checker = validator(output_regex=r"ticket #\d+")
    assert checker.validate(attempt("Opened ticket #4512 for you.")) is None
    reason = checker.validate(attempt("Opened a ticket for you."))
    assert reason is not None
    assert reason.category is FailureCategory.REGEX
    assert reason.description == "regex: output does not match output_regex"


def test_regex_anchored_whole_output() -> None:
    checker = validator(output_regex=r"\A(yes|no)\Z")
    assert checker.validate(attempt("yes")) is None
    assert checker.validate(attempt("yes, definitely")) is not None


def test_invalid_regex_rejected() -> None:
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        validator(output_regex="(unclosed")


def test_max_output_chars() -> None:
    checker = validator(max_output_chars=10)
    assert checker.validate(attempt("0123456789")) is None
    reason = checker.validate(attempt("0123456789X"))
    assert reason is not None
    assert reason.category is FailureCategory.TOO_LONG
    assert reason.description == "too_long: output is longer than max_output_chars 10"


def test_invalid_rules_rejected() -> None:
    with pytest.raises(ConfigError, match="output_format 'yaml'"):
        validator(output_format="yaml")
    with pytest.raises(ConfigError, match="max_output_chars 0"):
        validator(max_output_chars=0)


def test_transport_checked_before_content() -> None:
    reason = validator(output_format="json").validate(attempt("not json", status=500))
    assert reason is not None
    assert reason.category is FailureCategory.TRANSPORT


def test_validator_is_callable() -> None:
    checker = validator()
    assert checker(attempt("")) == checker.validate(attempt(""))


def test_schema_embedded_id_resolves() -> None:
    schema = {
        "$id": "https://example.com/schemas/ticket.json",
        "properties": {"address": {"$ref": "https://example.com/schemas/address.json"}},
        "$defs": {"address": {"$id": "https://example.com/schemas/address.json", "type": "string"}},
    }
    reason = validator(output_schema=schema).validate(attempt('{"address": 3}'))
    assert reason is not None
    assert reason.description == "schema: value at 'address' is not of type 'string'"
