"""Prompt discovery: which files at a revision are prompts, and with which settings."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from promptguard.config import Config, PromptSpec
from promptguard.errors import ConfigError
from promptguard.paths import glob_regex, is_glob, normalize_repo_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Discovery:
    """The prompts found at one revision, and the configured patterns that matched nothing."""

    prompts: dict[str, PromptSpec]
    unmatched_patterns: tuple[str, ...]


def discover(paths: Iterable[str], config: Config) -> Discovery:
    """Match repository paths against `[[prompts]]` entries, then the `include` globs.

    The first entry whose pattern matches a path gives that prompt its
    settings. The `include` globs apply when there is no `[[prompts]]` entry,
    or when `include` is set explicitly; they then give the top-level settings.
    """
    paths = sorted(paths)
    prompts: dict[str, PromptSpec] = {}
    excluded = [config_relative(config, pattern, "exclude glob") for pattern in config.exclude]

    specs = [(config_relative(config, spec.pattern, "prompt path"), spec) for spec in config.prompts]
    if not config.prompts or config.include_explicit:
        specs += [(config_relative(config, p, "include glob"), config.default_prompt(p)) for p in config.include]

    # One alternation of every pattern, in order: the regex engine tries the
    # alternatives left to right, so the first entry that matches a path wins,
    # and each path is matched once instead of once per pattern.
    alternatives = [
        f"(?P<p{index}>{glob_regex(pattern).pattern if is_glob(pattern) else re.escape(pattern) + chr(92) + 'Z'})"
        for index, (pattern, _) in enumerate(specs)
    ]
    combined = re.compile("|".join(alternatives)) if alternatives else None
    exclusions = [glob_regex(pattern) for pattern in excluded]
    matched: set[int] = set()
    for path in paths:
        match = combined.match(path) if combined is not None else None
        if match is None or match.lastgroup is None:
            continue
        if any(exclusion.match(path) for exclusion in exclusions):
            continue
        index = int(match.lastgroup[1:])
        prompts[path] = specs[index][1]
        matched.add(index)

    entries = len(config.prompts)
    unmatched = [spec.pattern for index, (_, spec) in enumerate(specs[:entries]) if index not in matched]
    return Discovery(prompts, tuple(unmatched))


def config_relative(config: Config, pattern: str, what: str) -> str:
    """Return a repository-relative path or glob for one written relative to the config file."""
    joined = f"{config.base_dir}/{pattern}" if config.base_dir else pattern
    return normalize_repo_path(joined, what=what)


def report_unmatched(base: Discovery, head: Discovery, config: Config, explicit: bool) -> list[str]:
    """Return warnings for configured patterns that match nothing at either revision (errors when strict)."""
    missing = sorted(set(base.unmatched_patterns) & set(head.unmatched_patterns))
    if not explicit:
        return []
    warnings = []
    for pattern in missing:
        message = f"prompt path {pattern!r} matches no file at either revision"
        if config.strict:
            raise ConfigError(message, location=config.source, fix="fix the path or glob, or remove the entry")
        warnings.append(f"{message}; check the path or glob in {config.source or 'the configuration'}")
    return warnings
