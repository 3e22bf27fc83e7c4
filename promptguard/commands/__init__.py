"""Click commands, one module per subcommand, imported only when that subcommand runs."""

from __future__ import annotations

from pathlib import Path

import click

# The repository a command works on; shared so every command reads it alike.
repo_option = click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Repository directory. Default: the current directory.",
)
