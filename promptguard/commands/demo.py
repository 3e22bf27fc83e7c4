"""`promptguard demo`: run check on a throwaway repository built from the sample prompts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from promptguard.errors import ExitCode


@click.command()
@click.option("--format", "output_format", type=click.Choice(("text", "markdown", "json")), default="text")
@click.option("--keep", is_flag=True, help="Keep the demo repository and print its path.")
def demo(output_format: str, keep: bool) -> int:
    """Run check on a throwaway repository built from the sample prompts.

    Always exits 0: the demo shows which budgets would fail a build without failing itself.
    """
    from promptguard.check import CheckOptions, run_check
    from promptguard.commands.check import render
    from promptguard.config import load_config
    from promptguard.demo import HEAD_MESSAGE, build_demo_repository, remove_repository
    from promptguard.revisions import Repository
    from promptguard.trend import prompt_trends

    directory = Path(tempfile.mkdtemp(prefix="promptguard-demo-"))
    try:
        build_demo_repository(directory)
        click.echo(f"demo repository: 2 commits; the change under review: {HEAD_MESSAGE!r}", err=True)
        config = load_config(directory, start=directory)
        repository = Repository(directory)
        try:
            result = run_check(directory, config, CheckOptions(base="HEAD~1", head="HEAD"), repository)
            trends = prompt_trends(repository, config, result) if output_format != "text" else None
        finally:
            repository.close()
        click.echo(render(result, output_format, trends), nl=False)
        failing = [b for b in result.violations if b.level == "fail"]
        if output_format == "text":
            if failing:
                click.echo(f"\nIn CI, this change would fail the build ({len(failing)} budget(s)):")
                for budget in failing:
                    click.echo(f"  - {budget.message}")
            else:
                click.echo("\nIn CI, this change would pass.")
            click.echo("Run `promptguard check` in your own repository to see your prompts.")
        if keep:
            click.echo(f"kept demo repository: {directory}", err=True)
    finally:
        if not keep:
            remove_repository(directory)
    return ExitCode.PASS
