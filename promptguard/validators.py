"""Check a recorded attempt's output against a prompt's output rules.

Every attempt fails on a transport error, a refusal, a truncated or an empty
output. A prompt's configuration may add `output_format = "json"`, an
`output_schema` (JSON Schema), an `output_regex` and `max_output_chars`.
"""

from __future__ import annotations

import contextlib
import enum
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import Draft202012Validator, validator_for
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012, specification_with

from promptguard.errors import ConfigError
from promptguard.fixtures import CONTENT_FILTER, LENGTH, Attempt
from promptguard.fixtures.jsonvalues import describe_schema_error

OUTPUT_FORMATS = ("json",)


class FailureCategory(enum.StrEnum):
    """Stable names of the ways an attempt fails, used as report keys."""

    TRANSPORT = "transport"
    EMPTY = "empty"
    TRUNCATED = "truncated"
    REFUSAL = "refusal"
    JSON = "json"
    SCHEMA = "schema"
    REGEX = "regex"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class FailureReason:
    """The reason an attempt failed; `description` names fields and limits, never output content."""

    category: FailureCategory
    description: str

    @classmethod
    def of(cls, category: FailureCategory, detail: str) -> FailureReason:
        return cls(category, f"{category.value}: {detail}")


@dataclass(frozen=True)
class OutputRules:
    """A prompt's output rules from its configuration; None turns a rule off."""

    output_format: str | None = None
    # Parsed JSON Schema document; its `$schema` picks the draft (2020-12 when absent).
    output_schema: Mapping[str, Any] | None = None
    # Must match somewhere in the output (`re.search`); anchor with \A and \Z for the whole.
    output_regex: str | None = None
    max_output_chars: int | None = None


def _iter_refs(schema: Any) -> Iterator[str]:
    """Yield every `$ref` and `$dynamicRef` value in a schema document."""
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield value
            else:
                yield from _iter_refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _iter_refs(item)


class _OfflineRegistry:
    """A `referencing.Registry` whose retrieval records the URI and fails, so nothing is fetched."""

    def __init__(self) -> None:
        self.rejected: list[str] = []
        # mypy does not see the attrs-generated `retrieve` parameter of Registry.
        self.registry: Registry[Any] = Registry(retrieve=self._reject)  # type: ignore[call-arg]

    def _reject(self, uri: str) -> Resource[Any]:
        self.rejected.append(uri)
        raise LookupError(f"remote $ref {uri} is not fetched")


class OutputValidator:
    """Compiled output rules: call `validate(attempt)` once per attempt.

    `config_location` (for example `promptguard.toml`) is named in configuration errors.
    """

    def __init__(self, rules: OutputRules, *, config_location: str | None = None) -> None:
        self.rules = rules
        self._location = config_location
        self._offline = _OfflineRegistry()
        self._check_limits()
        self._regex = self._compile_regex()
        self._schema_validator = self._compile_schema()

    def _config_error(self, message: str, fix: str) -> ConfigError:
        return ConfigError(message, location=self._location, fix=fix)

    def _check_limits(self) -> None:
        rules = self.rules
        if rules.output_format is not None and rules.output_format not in OUTPUT_FORMATS:
            raise self._config_error(
                f"output_format {rules.output_format!r} is not supported",
                fix='set output_format = "json" or remove it',
            )
        if rules.max_output_chars is not None and rules.max_output_chars < 1:
            raise self._config_error(
                f"max_output_chars {rules.max_output_chars} is not a positive integer",
                fix="set max_output_chars to 1 or more, or remove it",
            )

    def _compile_regex(self) -> re.Pattern[str] | None:
        if self.rules.output_regex is None:
            return None
        try:
            return re.compile(self.rules.output_regex)
        except re.error as error:
            raise self._config_error(
                f"output_regex is not a valid regular expression ({error})",
                fix="fix the pattern; it uses Python `re` syntax",
            ) from None

    def _compile_schema(self) -> Validator | None:
        if self.rules.output_schema is None:
            return None
        schema = dict(self.rules.output_schema)
        validator_class = validator_for(schema, default=Draft202012Validator)
        try:
            validator_class.check_schema(schema)
        except SchemaError as error:
            meta_schema = validator_class.META_SCHEMA["$schema"]
            raise self._config_error(
                f"output_schema is not a valid JSON Schema ({describe_schema_error(error)})",
                fix=f"check the schema against its meta-schema {meta_schema}",
            ) from None

        offline = self._offline
        validator = validator_class(schema, registry=offline.registry)
        specification = specification_with(str(schema.get("$schema", "")), default=DRAFT202012)
        resolver = offline.registry.resolver_with_root(specification.create_resource(schema))
        for reference in _iter_refs(schema):
            # Refs relative to a nested `$id` may only resolve during validation.
            with contextlib.suppress(Unresolvable):
                resolver.lookup(reference)
        if offline.rejected:
            raise self._remote_ref_error(offline.rejected[0])
        return validator

    def _remote_ref_error(self, uri: str) -> ConfigError:
        return self._config_error(
            f"output_schema refers to {uri!r}, which is outside the schema file",
            fix="copy the referenced schema under $defs; promptguard never fetches schemas",
        )

    def validate(self, attempt: Attempt) -> FailureReason | None:
        """Return why `attempt` failed, or None when its output passes every rule."""
        return (
            _transport_failure(attempt)
            or _completion_failure(attempt)
            or self._length_failure(attempt.output or "")
            or self._content_failure(attempt.output or "")
        )

    __call__ = validate

    def _length_failure(self, output: str) -> FailureReason | None:
        limit = self.rules.max_output_chars
        if limit is None or len(output) <= limit:
            return None
        return FailureReason.of(
            FailureCategory.TOO_LONG,
            f"output is longer than max_output_chars {limit}",
        )

    def _content_failure(self, output: str) -> FailureReason | None:
        needs_json = self.rules.output_format == "json" or self._schema_validator is not None
        if needs_json:
            try:
                document = json.loads(output)
            except json.JSONDecodeError as error:
                # The position is left out so that equal failures count as one description.
                return FailureReason.of(FailureCategory.JSON, f"output is not valid JSON ({error.msg})")
            schema_failure = self._schema_failure(document)
            if schema_failure is not None:
                return schema_failure

        if self._regex is not None and self._regex.search(output) is None:
            return FailureReason.of(FailureCategory.REGEX, "output does not match output_regex")
        return None

    def _schema_failure(self, document: Any) -> FailureReason | None:
        if self._schema_validator is None:
            return None
        try:
            error = best_match(self._schema_validator.iter_errors(document))
        except Unresolvable:
            rejected = self._offline.rejected
            raise self._remote_ref_error(rejected[0] if rejected else "an unresolvable $ref") from None
        if error is None:
            return None
        return FailureReason.of(FailureCategory.SCHEMA, describe_schema_error(error))


def _is_success_status(status: int | str | None) -> bool:
    if status is None:
        return True
    return isinstance(status, int) and 200 <= status < 300


def _transport_failure(attempt: Attempt) -> FailureReason | None:
    """Fail a call with a non-2xx status, a timeout or API error, or no response at all."""
    status = attempt.status
    if not _is_success_status(status):
        detail = f"HTTP {status}" if isinstance(status, int) else str(status)
        return FailureReason.of(FailureCategory.TRANSPORT, detail)
    if attempt.output is None:
        return FailureReason.of(FailureCategory.TRANSPORT, "no response recorded")
    return None


def _completion_failure(attempt: Attempt) -> FailureReason | None:
    """Fail a refused, filtered, truncated or empty completion."""
    if attempt.refusal:
        return FailureReason.of(FailureCategory.REFUSAL, "the model refused the request")
    if attempt.finish_reason == CONTENT_FILTER:
        return FailureReason.of(FailureCategory.REFUSAL, "the content filter stopped the output")
    if attempt.finish_reason == LENGTH:
        return FailureReason.of(FailureCategory.TRUNCATED, "output stopped at the maximum output tokens")
    if not (attempt.output or "").strip() and attempt.tool_calls == 0:
        return FailureReason.of(FailureCategory.EMPTY, "output is empty")
    return None
