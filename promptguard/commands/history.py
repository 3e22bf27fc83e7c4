"""`promptguard history`: the click layer over `promptguard.history.run_history`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from promptguard.commands import repo_option
from promptguard.errors import ExitCode

FORMATS = ("text", "markdown", "json", "csv")
# Show a progress bar only when this many versions still need counting.
PROGRESS_MIN_VERSIONS = 200


@click.command()
@click.argument("prompts", nargs=-1, metavar="[PROMPT]...")
@click.option(
    "--since",
    metavar="DATE|REF",
    help="Start of the period: an ISO date (2025-01-31) or a revision. "
    "The version in effect at the start is the first point.",
)
@click.option(
    "--max-count",
    type=click.IntRange(min=1),
    metavar="N",
    help="Show at most the last N versions per prompt.",
)
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="Configuration file, relative to the repository root.",
)
@click.option(
    "--prompts",
    "prompt_globs",
    metavar="GLOB",
    multiple=True,
    help="Prompt glob replacing `include` (repeatable).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Count every version again instead of using the token-count cache.",
)
@repo_option
def history(
    prompts: tuple[str, ...],
    since: str | None,
    max_count: int | None,
    output_format: str,
    output: str | None,
    config_path: str | None,
    prompt_globs: tuple[str, ...],
    no_cache: bool,
    repo_path: Path,
) -> int:
    """Show input tokens and cost per request of prompts at every commit that changed them.

    PROMPT is a path relative to the repository root; without one, every prompt
    found at HEAD is shown. Renames are followed. Token counts are cached in
    $PROMPTGUARD_CACHE_DIR (default: $XDG_CACHE_HOME/promptguard).
    """
    import dataclasses

    from promptguard.config import load_config
    from promptguard.history import HistoryOptions, run_history
    from promptguard.output import write_report
    from promptguard.reports.history_formats import render_history
    from promptguard.revisions import Repository
    from promptguard.tokencache import TokenCache

    repository = Repository(repo_path)
    cache = TokenCache.disabled() if no_cache else TokenCache.open_default()
    try:
        config = load_config(repository.root, config_path, {"include": list(prompt_globs) or None})
        if prompt_globs:
            config = dataclasses.replace(config, prompts=())
        options = HistoryOptions(prompts=prompts, since=since, max_count=max_count)
        with _progress_bar() as progress:
            result = run_history(repository, config, options, cache, progress)
    finally:
        cache.close()
        repository.close()

    write_report(render_history(result, output_format), output)
    return ExitCode.PASS


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """Yield a progress callback drawing on stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    bar: Any = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None:
            if total - done < PROGRESS_MIN_VERSIONS:
                return
            bar = click.progressbar(length=total, label="Counting versions", file=sys.stderr)
            bar.__enter__()
        bar.update(done - shown)
        shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
