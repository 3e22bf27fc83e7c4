"""`promptguard init`: write starter configuration, workflow and pre-commit files."""

from __future__ import annotations

from pathlib import Path

import click

from promptguard.errors import ExitCode
from promptguard.init import PRECOMMIT_FILE, PRECOMMIT_SNIPPET, write_starter_files


@click.command("init")
@click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    help="Repository directory. Default: the current directory.",
)
def init(repo_path: Path) -> int:
    """Write promptguard.toml, .github/workflows/promptguard.yml and a pre-commit hook.

    Existing files are left untouched. The pre-commit snippet is printed, and
    written to .pre-commit-config.yaml only when that file does not exist.
    """
    result = write_starter_files(repo_path)

    click.echo(f"found {len(result.prompts)} prompt file(s)")
    for path in result.written:
        click.echo(f"wrote {path}")
    for path in result.skipped:
        click.echo(f"skipped {path}: it already exists")
    if PRECOMMIT_FILE in result.skipped:
        click.echo(f"\nAdd this hook to {PRECOMMIT_FILE}:\n")
        click.echo(PRECOMMIT_SNIPPET.split("repos:\n", 1)[1])
    return ExitCode.PASS
