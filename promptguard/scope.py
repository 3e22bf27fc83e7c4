"""Scope of `check --changed-only`: the prompts it may leave out, and when it must count every prompt.

A prompt may be left out when its figures cannot differ between base and
head. That holds when its file is the same blob at the same path, it has no
recorded responses, routing or fallback model (those read other files), and it
includes or imports no other template. The check still counts every prompt
when the configuration changed, because a new model or a tighter budget
changes unchanged prompts too. It also counts every prompt when a budget
limits the total of every prompt. A per-prompt budget on a left-out prompt is
not evaluated, so a change of list prices between two days is seen only by a
check without `--changed-only`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

from promptguard.config import Config, PromptSpec
from promptguard.formats import TEMPLATE_READ_STATEMENT, detect_format

# Budgets on the total of every prompt at head. `max_monthly_cost_increase` is
# a difference, to which an unchanged prompt adds zero, so it is not listed.
EVERY_PROMPT_BUDGETS = frozenset({"max_monthly_cost", "max_monthly_cost_growth_pct"})

CONFIG_FILE_NAMES = frozenset({"promptguard.toml", "pyproject.toml"})

# Formats that are never rendered as templates.
PLAIN_FORMATS = frozenset({"text", "markdown"})

_TEMPLATE_READ = re.compile(TEMPLATE_READ_STATEMENT.encode("ascii"))

# The token-count cache keeps `reads_templates` of each blob under this name in
# place of an encoding, with a hash of the pattern in place of the settings.
SCAN_CACHE_NAME = "template-reads"
SCAN_CACHE_VERSION = hashlib.sha256(_TEMPLATE_READ.pattern).hexdigest()[:16]


@dataclass(frozen=True)
class Scope:
    """Prompts a check compared: `left_out` unchanged prompts were not counted.

    `every_prompt_reason` is the reason a `--changed-only` check counted every
    prompt anyway, or None when it was free to leave prompts out.
    """

    changed_only: bool = False
    left_out: int = 0
    every_prompt_reason: str | None = None


def every_prompt_reason(
    config: Config,
    changed_paths: Iterable[str],
    config_at_base: bytes | None,
    config_in_use: bytes | None,
) -> str | None:
    """Return why a `--changed-only` check must count every prompt, or None if it may leave some out.

    `config_at_base` is the configuration file at the base revision and
    `config_in_use` the file the check read, both None without a file. Only
    the settings are compared: comments, layout and, in pyproject.toml, other
    tables may differ.
    """
    budgets = sorted(EVERY_PROMPT_BUDGETS & config.budgets.keys())
    if budgets:
        return f"the budget {budgets[0]} limits the total of every prompt"
    if config.source is not None:
        if _settings(config.source, config_at_base) != _settings(config.source, config_in_use):
            return f"the settings in {config.source} differ from the base revision"
        return None
    for path in changed_paths:
        if path.rsplit("/", 1)[-1] in CONFIG_FILE_NAMES:
            return f"the configuration file {path} changed"
    return None


def _settings(source: str, data: bytes | None) -> object:
    """Return promptguard's settings in a configuration file, or the raw bytes if they do not parse."""
    if data is None:
        return None
    try:
        document = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return data
    if source.rsplit("/", 1)[-1] == "pyproject.toml":
        return document.get("tool", {}).get("promptguard")
    return document


def renders_templates(path: str, spec: PromptSpec) -> bool:
    """Return whether a prompt's format renders Jinja2, so that it may read other templates."""
    return detect_format(path, spec.format, spec.key) not in PLAIN_FORMATS


def reads_templates(source: bytes) -> bool:
    """Return whether a prompt file has a Jinja2 statement that reads another template."""
    return _TEMPLATE_READ.search(source) is not None


def may_leave_out(path: str, spec: PromptSpec, reads_other_templates: bool | None) -> bool:
    """Return whether an unchanged prompt's figures depend on its own file and settings alone.

    `reads_other_templates` is `reads_templates` of the prompt's file, needed
    only when `renders_templates` is true. None counts as true.
    """
    if spec.fixtures or spec.routing or spec.fallback_model:
        return False
    if not renders_templates(path, spec):
        return True
    return reads_other_templates is False
