"""Prompt discovery: which files at a revision are prompts, and with which settings."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from promptguard.config import Config, PromptSpec
from promptguard.errors import ConfigError
from promptguard.paths import glob_match, is_glob, normalize_repo_path

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
    unmatched: list[str] = []
    excluded = [config_relative(config, pattern, "exclude glob") for pattern in config.exclude]

    specs = [(config_relative(config, spec.pattern, "prompt path"), spec) for spec in config.prompts]
    if not config.prompts or config.include_explicit:
        specs += [(config_relative(config, p, "include glob"), config.default_prompt(p)) for p in config.include]

    for pattern, spec in specs:
        matched = False
        for path in paths:
            if path in prompts or any(glob_match(ex, path) for ex in excluded):
                continue
            if (path == pattern) if not is_glob(pattern) else glob_match(pattern, path):
                prompts[path] = spec
                matched = True
        if not matched and spec in config.prompts:
            unmatched.append(spec.pattern)
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
