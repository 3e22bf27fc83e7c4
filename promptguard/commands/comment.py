"""`promptguard comment github`: post the report of a saved check as a pull-request comment."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from promptguard.commands.report_option import report_option
from promptguard.comment import (
    CommentBehavior,
    build_comment_body,
    explain_failure,
    publish_comment,
)
from promptguard.errors import ExitCode
from promptguard.github import GitHubError, client_from_environment, resolve_target
from promptguard.reports.load import load_report

logger = logging.getLogger(__name__)


def _workflow_run_link() -> str | None:
    """Return a Markdown link to the current Actions run, or None outside Actions."""
    server = os.environ.get("GITHUB_SERVER_URL")
    repository = os.environ.get("GITHUB_REPOSITORY")
    run_id = os.environ.get("GITHUB_RUN_ID")
    if not (server and repository and run_id and run_id.isdigit()):
        return None
    return f"the [workflow run]({server.rstrip('/')}/{repository}/actions/runs/{run_id})"


@click.group("comment")
def comment() -> None:
    """Post or update the pull-request comment for a JSON report."""


@comment.command("github")
@report_option
@click.option("--repo", help="Repository as OWNER/NAME. Default: $GITHUB_REPOSITORY.")
@click.option(
    "--pr",
    "number",
    type=click.IntRange(min=1),
    help="Pull-request number. Default: from $GITHUB_EVENT_PATH or $GITHUB_REF.",
)
@click.option(
    "--behavior",
    type=click.Choice([behavior.value for behavior in CommentBehavior]),
    default=CommentBehavior.UPDATE.value,
    show_default=True,
    help="update: edit promptguard's comment in place. new: always add one. "
    "hide-and-new: minimize earlier ones as outdated, then add one. "
    "delete-and-new: delete earlier ones, then add one.",
)
@click.option(
    "--api-url",
    help="GitHub REST API URL, https://HOST/api/v3 for GitHub Enterprise Server. "
    "Default: $GITHUB_API_URL or https://api.github.com.",
)
@click.option(
    "--full-report-url",
    help="Where readers find the full report when the comment is cut to GitHub's size limit. "
    "Default: the current workflow run.",
)
@click.option(
    "--fail-on-error",
    is_flag=True,
    help="Exit with 2 when the comment cannot be posted. By default that is a warning and exit 0.",
)
def github(
    report_path: Path,
    repo: str | None,
    number: int | None,
    behavior: str,
    api_url: str | None,
    full_report_url: str | None,
    fail_on_error: bool,
) -> int:
    """Post the report as a comment on a GitHub pull request, using $GITHUB_TOKEN."""
    document = load_report(report_path)
    target = resolve_target(os.environ, repository=repo, number=number)
    client = client_from_environment(os.environ, api_url=api_url)
    hint = f"<{full_report_url}>" if full_report_url else _workflow_run_link()
    body = build_comment_body(document, full_report_hint=hint)

    try:
        outcome = publish_comment(client, target, body, CommentBehavior(behavior))
    except GitHubError as error:
        message, expected = explain_failure(error, target)
        if fail_on_error and not expected:
            raise GitHubError(message, status=error.status) from error
        logger.warning("%s", message)
        return ExitCode.PASS

    where = f"{target.repository}#{target.number}"
    removed = f", {outcome.removed} earlier comment(s) hidden or deleted" if outcome.removed else ""
    click.echo(f"comment {outcome.comment_id} {outcome.action} on {where}{removed}")
    return ExitCode.PASS
