"""`promptguard annotate`: GitHub Actions annotations, job summary and step outputs for a report."""

from __future__ import annotations

import os
from pathlib import Path

import click

from promptguard.annotate import (
    append_step_summary,
    format_annotations,
    report_outputs,
    write_outputs,
)
from promptguard.commands.report_option import report_option
from promptguard.errors import ExitCode
from promptguard.reports.load import load_report


@click.command("annotate")
@report_option
@click.option(
    "--full-report-url",
    help="Where readers find the full report when the job summary is cut to GitHub's size limit.",
)
def annotate(report_path: Path, full_report_url: str | None) -> int:
    """Print ::error and ::warning commands for budgets that fail or warn.

    When $GITHUB_STEP_SUMMARY is set, the Markdown report is appended to it.
    When $GITHUB_OUTPUT is set, the step outputs status, report-path and
    monthly-cost-delta are written to it. Always exits 0 for a valid report:
    the action decides from `status` whether the job fails.
    """
    document = load_report(report_path)

    for line in format_annotations(document):
        click.echo(line)

    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        hint = f"<{full_report_url}>" if full_report_url else f"`{report_path.name}`"
        append_step_summary(Path(summary_path), document, hint)

    output_path = os.environ.get("GITHUB_OUTPUT")
    if output_path:
        write_outputs(Path(output_path), report_outputs(document, report_path.resolve()))
    return ExitCode.PASS
