"""`promptguard check`: the click layer over `promptguard.check.run_check`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from promptguard.commands import repo_option
from promptguard.errors import ExitCode

if TYPE_CHECKING:
    from promptguard.check import HeadMode
    from promptguard.trend import TrendPoint

FORMATS = ("text", "markdown", "json")


@click.command()
@click.option("--base", metavar="REF", help="Base revision. Default: merge base of HEAD with the default branch.")
@click.option("--head", metavar="REF", help="Head revision. Default: HEAD.")
@click.option("--staged", is_flag=True, help="Compare the staged index with HEAD (pre-commit).")
@click.option("--worktree", is_flag=True, help="Compare the working tree with HEAD.")
@click.option(
    "--changed-only",
    is_flag=True,
    help="Leave out prompts whose file, settings and includes are unchanged, so totals cover changed prompts only "
    "(for pre-commit). Every prompt still counts when the configuration changed or a budget limits the total.",
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="Configuration file (a path from the current directory, inside the repository).",
)
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option(
    "--prompts", "prompt_globs", metavar="GLOB", multiple=True, help="Prompt glob replacing `include` (repeatable)."
)
@click.option("--price-date", metavar="YYYY-MM-DD", help="Apply the list prices valid on this date. Default: today.")
@click.option(
    "--strict", is_flag=True, default=None, help="Treat warnings (unmatched globs, bad fixture lines) as errors."
)
@click.option(
    "--trend/--no-trend",
    "with_trend",
    default=True,
    show_default=True,
    help="Add the recent versions of each changed prompt to Markdown and JSON reports.",
)
@repo_option
def check(
    base: str | None,
    head: str | None,
    staged: bool,
    worktree: bool,
    changed_only: bool,
    config_path: str | None,
    output_format: str,
    output: str | None,
    prompt_globs: tuple[str, ...],
    price_date: str | None,
    strict: bool | None,
    with_trend: bool,
    repo_path: Path,
) -> int:
    """Compare prompt tokens and cost between two revisions and evaluate budgets.

    Exit codes: 0 pass or warn, 1 a budget failed, 2 usage or input error, 3 crash.
    """
    from promptguard.check import CheckOptions, run_check
    from promptguard.config import load_config
    from promptguard.output import write_report
    from promptguard.revisions import Repository

    if sum([bool(head), staged, worktree]) > 1:
        raise click.UsageError("use only one of --head, --staged and --worktree")
    mode: HeadMode = "commit"
    if staged:
        mode = "index"
    elif worktree:
        mode = "worktree"

    repository = Repository(repo_path)
    try:
        overrides = {"strict": strict, "include": list(prompt_globs) or None, "price_date": price_date}
        config = load_config(repository.root, config_path, overrides)
        if prompt_globs:
            config = dataclasses.replace(config, prompts=())
        options = CheckOptions(base=base, head=head, mode=mode, changed_only=changed_only)
        result = run_check(repository.root, config, options, repository)
        trends = None
        if output_format in ("markdown", "json") and with_trend:
            from promptguard.trend import prompt_trends

            trends = prompt_trends(repository, config, result)
    finally:
        repository.close()

    write_report(render(result, output_format, trends), output)
    return ExitCode.BUDGET_EXCEEDED if result.status == "fail" else ExitCode.PASS


def render(result: object, output_format: str, trends: Mapping[str, Sequence[TrendPoint]] | None = None) -> str:
    """Render a CheckResult in one of FORMATS."""
    from promptguard.check import CheckResult
    from promptguard.report import build_document, render_json

    assert isinstance(result, CheckResult)
    document = build_document(result, trends)
    if output_format == "json":
        return render_json(document)
    if output_format == "markdown":
        from promptguard.reports.markdown import render_markdown

        return render_markdown(document)
    from promptguard.reports.text import render_text

    return render_text(document)
