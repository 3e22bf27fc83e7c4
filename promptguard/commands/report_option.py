"""The `--report FILE` option shared by the commands that read a saved JSON report."""

from __future__ import annotations

from pathlib import Path

import click

report_option = click.option(
    "--report",
    "report_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON report written by `promptguard check --format json --output FILE`.",
)
