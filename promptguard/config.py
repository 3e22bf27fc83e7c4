"""Configuration: `promptguard.toml` or `[tool.promptguard]` in `pyproject.toml`.

Precedence, lowest to highest, all applied in `load_config`:
1. built-in defaults (`DEFAULTS`);
2. the configuration file: `--config FILE` if given (an error if it cannot be
   read), else the nearest `promptguard.toml`, or `pyproject.toml` with a
   `[tool.promptguard]` table, from the current directory up to the
   repository root;
3. command-line options, passed in as `overrides`.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from promptguard.errors import ConfigError, format_json_path

DEFAULT_INCLUDE: tuple[str, ...] = (
    "**/*.prompt",
    "**/*.prompty",
    "**/*.j2",
    "**/*.jinja",
    "**/*.jinja2",
    "prompts/**/*.md",
    "prompts/**/*.txt",
    "**/prompts/**/*.{md,txt,json,yaml,yml}",
)

DEFAULTS: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "requests_per_month": 1_000_000,
    "expected_output_tokens": 300,
    "role": "system",
    "strict": False,
    "include": list(DEFAULT_INCLUDE),
    "exclude": [],
    "variables": {},
    "model_aliases": {},
    "max_retries": 0,
}

# Budgets whose global value applies to the totals; every other global budget
# applies to each prompt unless the prompt sets its own.
TOTAL_BUDGETS = frozenset({"max_monthly_cost", "max_monthly_cost_increase", "max_monthly_cost_growth_pct"})


@dataclass(frozen=True)
class Limit:
    """Thresholds of one budget: exceeding `fail` fails the build, exceeding `warn` warns."""

    fail: Decimal | None = None
    warn: Decimal | None = None
    window_days: int | None = None
    use_upper_bound: bool = False
    scenario: str | None = None


@dataclass(frozen=True)
class CustomPrice:
    """A configured price in US dollars per million tokens."""

    input_per_million: Decimal
    output_per_million: Decimal
    cached_input_per_million: Decimal | None = None


@dataclass(frozen=True)
class Route:
    """One share of traffic sent to a model."""

    model: str
    weight: Decimal
    failure_rate: Decimal | None = None
    fixtures: str | None = None


@dataclass(frozen=True)
class Scenario:
    """Overrides applied side by side with the baseline, for example peak load."""

    name: str
    requests_per_month: int | None = None
    traffic_multiplier: Decimal | None = None
    failure_rate: Decimal | None = None
    fallback_failure_rate: Decimal | None = None
    max_retries: int | None = None
    routing: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptSpec:
    """One `[[prompts]]` entry: which files it matches and how to count and price them."""

    pattern: str
    model: str
    role: str
    requests_per_month: int
    expected_output_tokens: int
    variables: Mapping[str, Any]
    budgets: Mapping[str, Limit]
    name: str | None = None
    format: str | None = None
    key: str | None = None
    fixtures: str | None = None
    output_format: str | None = None
    output_schema: str | None = None
    output_regex: str | None = None
    max_output_chars: int | None = None
    max_retries: int = 0
    fallback_model: str | None = None
    fallback_fixtures: str | None = None
    fallback_failure_rate: Decimal | None = None
    routing: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Config:
    """The effective configuration after defaults, file and command-line overrides."""

    source: str | None
    model: str
    requests_per_month: int
    expected_output_tokens: int
    role: str
    strict: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    variables: Mapping[str, Any]
    model_aliases: Mapping[str, str]
    pricing: Mapping[str, CustomPrice]
    budgets: Mapping[str, Limit]
    prompts: tuple[PromptSpec, ...]
    price_date: datetime.date
    max_retries: int = 0
    fallback_model: str | None = None
    fallback_failure_rate: Decimal | None = None
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    # Directory of the config file relative to the repository root ("" at the
    # root): prompt, fixture and schema paths in the file are relative to it.
    base_dir: str = ""
    # True when `include` was set in the file or on the command line, so it
    # applies next to `[[prompts]]` entries instead of only without them.
    include_explicit: bool = False

    def default_prompt(self, pattern: str) -> PromptSpec:
        """Return the settings used for a prompt found by the `include` globs."""
        return PromptSpec(
            pattern=pattern,
            model=self.model,
            role=self.role,
            requests_per_month=self.requests_per_month,
            expected_output_tokens=self.expected_output_tokens,
            variables=self.variables,
            budgets={},
            max_retries=self.max_retries,
            fallback_model=self.fallback_model,
            fallback_failure_rate=self.fallback_failure_rate,
        )


@functools.cache
def config_schema() -> dict[str, Any]:
    """Return the JSON Schema of the configuration, shipped in the package."""
    text = resources.files("promptguard.schemas").joinpath("config.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def find_config_file(root: Path, explicit: str | None, start: Path | None = None) -> tuple[Path, str | None] | None:
    """Locate the configuration file and the TOML table holding it (None for the whole file)."""
    root = root.resolve()
    if explicit is not None:
        path = (Path.cwd() / explicit).resolve()
        if not path.is_relative_to(root):
            raise ConfigError(
                f"config file {explicit!r} is outside the repository {root}",
                fix="keep the configuration inside the repository it checks",
            )
        if not path.is_file():
            raise ConfigError(f"config file {explicit!r} not found", fix="check the --config path")
        table = "tool.promptguard" if path.name == "pyproject.toml" else None
        return path, table

    directory = (start or Path.cwd()).resolve()
    if not directory.is_relative_to(root):
        directory = root
    while True:
        toml_path = directory / "promptguard.toml"
        if toml_path.is_file():
            return _inside(root, toml_path), None
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _configures_promptguard(pyproject):
            return _inside(root, pyproject), "tool.promptguard"
        if directory == root:
            return None
        directory = directory.parent


def _inside(root: Path, path: Path) -> Path:
    """Return `path` if it resolves inside the repository; a symbolic link out of it is rejected."""
    if not path.resolve().is_relative_to(root):
        raise ConfigError(
            f"config file {path.name} links to {path.resolve()}, outside the repository {root}",
            fix="keep the configuration inside the repository it checks",
        )
    return path


def _configures_promptguard(pyproject: Path) -> bool:
    try:
        data = tomllib.loads(pyproject.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False  # Not our file to judge; it only matters if it configures us.
    return isinstance(data.get("tool"), dict) and "promptguard" in data["tool"]


def load_config(
    root: Path,
    explicit: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    start: Path | None = None,
) -> Config:
    """Load, validate and merge the configuration for the repository at `root`."""
    raw: dict[str, Any] = {}
    source: str | None = None
    base_dir = ""
    text = ""
    found = find_config_file(root, explicit, start)
    if found is not None:
        path, table = found
        source = path.relative_to(root.resolve()).as_posix()
        base_dir = path.parent.relative_to(root.resolve()).as_posix()
        base_dir = "" if base_dir == "." else base_dir
        text = _read_text(path, source)
        raw = _parse_toml(text, source)
        if table is not None:
            raw = raw.get("tool", {}).get("promptguard", {})
            if not isinstance(raw, dict):
                raise ConfigError("[tool.promptguard] must be a table", location=source)
    raw = {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in raw.items()}
    validate_config(raw, source or "configuration", text)
    _check_fractions(raw, source or "configuration", text)

    merged = {**DEFAULTS, **raw, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    if overrides and overrides.get("price_date") is not None:
        validate_config({"price_date": overrides["price_date"]}, "--price-date", "")
    config = _build_config(merged, source)
    include_explicit = "include" in raw or bool(overrides and overrides.get("include"))
    return replace(config, base_dir=base_dir, include_explicit=include_explicit)


def _read_text(path: Path, source: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file: {error.strerror}", location=source) from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file is not valid UTF-8 (byte {error.start})", location=source, fix="save it as UTF-8"
        ) from error


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        location = f"{source}:{match.group(1)}" if match else source
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise ConfigError(f"invalid TOML: {reason}", location=location, fix="fix the TOML syntax") from error


def _check_fractions(raw: Mapping[str, Any], source: str, text: str) -> None:
    """Reject a failure-rate budget written as a percentage: it is a fraction of attempts."""
    tables = [raw.get("budgets", {})] + [entry.get("budgets", {}) for entry in raw.get("prompts", [])]
    for budgets in tables:
        for level, value in budgets.get("max_failure_rate", {}).items():
            if level in ("fail", "warn") and value > 1:
                line = _line_of(text, "max_failure_rate")
                raise ConfigError(
                    f"max_failure_rate {level} = {value} is above 1, but it is a fraction of attempts",
                    location=f"{source}:{line}" if line else source,
                    fix=f"write {Decimal(str(value)) / 100} for {value} %",
                )


def _line_of(text: str, key: str) -> int | None:
    pattern = re.compile(rf"(?:^|[ \t{{,.\[])(?P<key>\"?{re.escape(key)}\"?)\s*(?:=|\])", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start("key")) + 1 if match else None


def _allowed_keys(schema: Mapping[str, Any], path: list[str | int]) -> list[str]:
    """Return the property names the schema allows at `path`, following $refs."""
    root = config_schema()
    node: Mapping[str, Any] = schema
    for step in path:
        node = _deref(root, node)
        if isinstance(step, int):
            node = node.get("items", {})
        elif step in node.get("properties", {}):
            node = node["properties"][step]
        else:
            node = node.get("additionalProperties", {})
            if not isinstance(node, Mapping):
                return []
    node = _deref(root, node)
    return sorted(node.get("properties", {}))


def _deref(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root["$defs"][name]
    return node


def _validated_marker(raw: Mapping[str, Any]) -> Path:
    """Return the cache file that records that exactly this configuration passed validation."""
    from promptguard import __version__
    from promptguard.tokencache import default_cache_dir

    content = json.dumps(raw, sort_keys=True, default=repr) + __version__ + json.dumps(config_schema(), sort_keys=True)
    digest = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
    return default_cache_dir() / "validated-configs" / digest


def validate_config(raw: Mapping[str, Any], source: str, text: str) -> None:
    """Check the configuration against the shipped JSON Schema; raise on the first problem.

    A configuration that passed once is remembered in the cache directory, so
    the next run (the pre-commit hook's case) skips importing jsonschema.
    """
    marker = _validated_marker(raw)
    if marker.is_file():
        return

    import jsonschema

    validator_class = jsonschema.validators.validator_for(config_schema())
    validator = validator_class(config_schema(), format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(raw), key=lambda e: (len(e.absolute_path), list(map(str, e.path))))
    if not errors:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # Only a speed-up: the next run validates again.
        return
    error = errors[0]
    path = list(error.absolute_path)
    dotted = format_json_path(path)

    if error.validator == "additionalProperties":
        schema: Any = error.schema
        instance: Any = error.instance
        unexpected = sorted(set(instance) - set(schema.get("properties", {})))
        key = unexpected[0]
        allowed = _allowed_keys(config_schema(), path)
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        line = _line_of(text, key)
        location = f"{source}:{line}" if line else source
        where = f" in {dotted}" if dotted else ""
        fix = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(allowed)}"
        raise ConfigError(f"unknown key {key!r}{where}", location=location, fix=fix)

    last_key = next((str(step) for step in reversed(path) if isinstance(step, str)), None)
    line = _line_of(text, last_key) if last_key else None
    location = f"{source}:{line}" if line else source
    if error.validator == "required":
        raise ConfigError(f"{dotted or 'configuration'}: {error.message}", location=location, fix="add the key")
    value = json.dumps(error.instance, default=str)
    if len(value) > 60:
        value = value[:57] + "..."
    expected = _expected(error)
    raise ConfigError(f"invalid value {value} for {dotted or 'configuration'}", location=location, fix=expected)


def _expected(error: Any) -> str:
    schema = error.schema
    if error.validator == "type":
        return f"expected {schema['type'] if isinstance(schema['type'], str) else ' or '.join(schema['type'])}"
    if error.validator == "enum":
        return "expected one of: " + ", ".join(map(str, schema["enum"]))
    if error.validator in ("minimum", "maximum"):
        return f"expected a number with {error.validator} {schema[error.validator]}"
    if error.validator == "format":
        return f"expected a {schema['format']} such as 2026-01-31"
    if error.validator == "minProperties":
        return "give at least fail or warn, for example { fail = 10 }"
    return str(error.message)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _limits(raw: Mapping[str, Any]) -> dict[str, Limit]:
    limits: dict[str, Limit] = {}
    for name, spec in raw.items():
        limits[name] = Limit(
            fail=_decimal(spec["fail"]) if "fail" in spec else None,
            warn=_decimal(spec["warn"]) if "warn" in spec else None,
            window_days=spec.get("window_days"),
            use_upper_bound=bool(spec.get("use_upper_bound", False)),
            scenario=spec.get("scenario"),
        )
    return limits


def _build_config(merged: Mapping[str, Any], source: str | None) -> Config:
    price_date = merged.get("price_date")
    pricing = {
        model: CustomPrice(
            input_per_million=_decimal(spec["input_per_million"]),
            output_per_million=_decimal(spec["output_per_million"]),
            cached_input_per_million=(
                _decimal(spec["cached_input_per_million"]) if "cached_input_per_million" in spec else None
            ),
        )
        for model, spec in merged.get("pricing", {}).items()
    }
    scenarios = {
        name: Scenario(
            name=name,
            requests_per_month=spec.get("requests_per_month"),
            traffic_multiplier=_decimal(spec["traffic_multiplier"]) if "traffic_multiplier" in spec else None,
            failure_rate=_decimal(spec["failure_rate"]) if "failure_rate" in spec else None,
            fallback_failure_rate=(
                _decimal(spec["fallback_failure_rate"]) if "fallback_failure_rate" in spec else None
            ),
            max_retries=spec.get("max_retries"),
            routing={model: _decimal(weight) for model, weight in spec.get("routing", {}).items()},
        )
        for name, spec in merged.get("scenarios", {}).items()
    }
    config = Config(
        source=source,
        model=merged["model"],
        requests_per_month=int(merged["requests_per_month"]),
        expected_output_tokens=int(merged["expected_output_tokens"]),
        role=merged["role"],
        strict=bool(merged["strict"]),
        include=tuple(merged["include"]),
        exclude=tuple(merged["exclude"]),
        variables=dict(merged["variables"]),
        model_aliases=dict(merged["model_aliases"]),
        pricing=pricing,
        budgets=_limits(merged.get("budgets", {})),
        prompts=(),
        price_date=(
            datetime.date.fromisoformat(price_date) if price_date else datetime.datetime.now(datetime.UTC).date()
        ),
        max_retries=int(merged["max_retries"]),
        fallback_model=merged.get("fallback_model"),
        fallback_failure_rate=(
            _decimal(merged["fallback_failure_rate"]) if "fallback_failure_rate" in merged else None
        ),
        scenarios=scenarios,
    )
    prompts = tuple(_prompt_spec(entry, config) for entry in merged.get("prompts", []))
    return replace(config, prompts=prompts)


def _prompt_spec(entry: Mapping[str, Any], config: Config) -> PromptSpec:
    return PromptSpec(
        pattern=entry["path"],
        name=entry.get("name"),
        format=entry.get("format"),
        key=entry.get("key"),
        model=entry.get("model", config.model),
        role=entry.get("role", config.role),
        requests_per_month=int(entry.get("requests_per_month", config.requests_per_month)),
        expected_output_tokens=int(entry.get("expected_output_tokens", config.expected_output_tokens)),
        variables={**config.variables, **entry.get("variables", {})},
        budgets=_limits(entry.get("budgets", {})),
        fixtures=entry.get("fixtures"),
        output_format=entry.get("output_format"),
        output_schema=entry.get("output_schema"),
        output_regex=entry.get("output_regex"),
        max_output_chars=entry.get("max_output_chars"),
        max_retries=int(entry.get("max_retries", config.max_retries)),
        fallback_model=entry.get("fallback_model", config.fallback_model),
        fallback_fixtures=entry.get("fallback_fixtures"),
        fallback_failure_rate=(
            _decimal(entry["fallback_failure_rate"])
            if "fallback_failure_rate" in entry
            else config.fallback_failure_rate
        ),
        routing=tuple(
            Route(
                model=route["model"],
                weight=_decimal(route["weight"]),
                failure_rate=_decimal(route["failure_rate"]) if "failure_rate" in route else None,
                fixtures=route.get("fixtures"),
            )
            for route in entry.get("routing", [])
        ),
    )
