"""Post the Markdown report as a pull-request comment, keeping one comment per pull request.

promptguard's comments start with a hidden HTML marker, so later runs can find
them again to edit, hide or delete them.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from promptguard.github import GitHubClient, GitHubError, PullRequestTarget
from promptguard.reports.markdown import render_markdown

logger = logging.getLogger(__name__)

MARKER = "<!-- promptguard:report -->"

# GitHub rejects issue comments longer than this ("body is too long (maximum
# is 65536 characters)"). NOTE: GitHub counts characters on its side, which we
# assume matches Python's count of code points.
GITHUB_COMMENT_MAX_CHARS = 65_536

FORK_PERMISSION_HELP = (
    "the token cannot write comments on this pull request, because it comes from a fork and"
    " GitHub gives fork pull requests a read-only GITHUB_TOKEN. The check itself still ran."
    " To comment on fork pull requests, run check in a `pull_request` workflow that uploads"
    " the JSON report as an artifact, and post it from a second workflow triggered by"
    " `workflow_run`, which gets a write token (see docs/github-action.md)."
)

PERMISSION_HELP = (
    "the token cannot write comments on this pull request; give the job"
    " `permissions: pull-requests: write`. If the pull request comes from a fork, use the"
    " two-workflow setup described in docs/github-action.md."
)


class CommentBehavior(enum.StrEnum):
    """Handling of promptguard's earlier comments on the pull request."""

    UPDATE = "update"
    NEW = "new"
    HIDE_AND_NEW = "hide-and-new"
    DELETE_AND_NEW = "delete-and-new"


@dataclasses.dataclass(frozen=True)
class CommentOutcome:
    """The comment written and how many earlier ones were hidden or deleted."""

    action: str
    comment_id: int
    url: str | None
    removed: int = 0


def build_comment_body(document: Mapping[str, Any], *, full_report_hint: str | None = None) -> str:
    """Return the marker and the Markdown report, cut to fit GitHub's comment limit."""
    room = GITHUB_COMMENT_MAX_CHARS - len(MARKER) - 1
    return f"{MARKER}\n{render_markdown(document, max_chars=room, full_report_hint=full_report_hint)}"


def find_report_comments(comments: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Return the comments that start with the marker, oldest first, as GitHub lists them.

    NOTE: any user who can comment could post the marker too. Such a comment is
    picked up like ours, and editing or deleting it fails unless the token may
    edit other users' comments.
    """
    return [comment for comment in comments if str(comment.get("body") or "").lstrip().startswith(MARKER)]


def _remove_comments(
    client: GitHubClient,
    repository: str,
    comments: Sequence[Mapping[str, Any]],
    behavior: CommentBehavior,
) -> int:
    """Hide or delete earlier comments and return how many succeeded; failures are logged."""
    removed = 0
    for comment in comments:
        try:
            if behavior is CommentBehavior.HIDE_AND_NEW:
                client.minimize_comment(str(comment["node_id"]), "OUTDATED")
            else:
                client.delete_issue_comment(repository, int(comment["id"]))
        except GitHubError as error:
            verb = "hide" if behavior is CommentBehavior.HIDE_AND_NEW else "delete"
            logger.warning("could not %s earlier comment %s: %s", verb, comment.get("id"), error)
            continue
        removed += 1
    return removed


def publish_comment(
    client: GitHubClient,
    target: PullRequestTarget,
    body: str,
    behavior: CommentBehavior = CommentBehavior.UPDATE,
) -> CommentOutcome:
    """Write the report comment on a pull request according to `behavior`.

    `update` edits the newest comment with the marker (or creates one), so
    repeated runs leave a single comment. `new` always creates one.
    `hide-and-new` minimizes earlier ones as outdated, and `delete-and-new`
    deletes them, before creating a new one. Raises GitHubError.
    """
    if behavior is CommentBehavior.NEW:
        created = client.create_issue_comment(target.repository, target.number, body)
        return CommentOutcome("created", int(created["id"]), created.get("html_url"))

    existing = find_report_comments(client.list_issue_comments(target.repository, target.number))
    logger.info(
        "found %d earlier promptguard comment(s) on %s#%d",
        len(existing),
        target.repository,
        target.number,
    )

    if behavior is CommentBehavior.UPDATE and existing:
        newest = existing[-1]
        if newest.get("body") == body:
            return CommentOutcome("unchanged", int(newest["id"]), newest.get("html_url"))
        try:
            updated = client.update_issue_comment(target.repository, int(newest["id"]), body)
            return CommentOutcome("updated", int(updated["id"]), updated.get("html_url"))
        except GitHubError as error:
            if error.status != 404:
                raise
            logger.info("comment %s was deleted meanwhile, creating a new one", newest["id"])

    removed = 0
    if behavior in (CommentBehavior.HIDE_AND_NEW, CommentBehavior.DELETE_AND_NEW):
        removed = _remove_comments(client, target.repository, existing, behavior)
    created = client.create_issue_comment(target.repository, target.number, body)
    return CommentOutcome("created", int(created["id"]), created.get("html_url"), removed)


def explain_failure(error: GitHubError, target: PullRequestTarget) -> tuple[str, bool]:
    """Return a warning for a failed comment and whether it is the expected fork case.

    A 403 without rate limiting means the token lacks write access. On a fork
    pull request that is GitHub's normal read-only token, not a failure.
    """
    if error.status == 403 and target.from_fork:
        return f"comment not posted: {FORK_PERMISSION_HELP}", True
    if error.status == 403:
        return f"comment not posted ({error}): {PERMISSION_HELP}", False
    return f"comment not posted: {error}", False
