"""Tests for the GitHub client and `promptguard comment github` against a real loopback server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_github import FakeGitHub
from report_builders import fail_report, pass_report, with_many_prompts

import promptguard.github
from promptguard.cli import main
from promptguard.comment import MARKER, CommentBehavior, build_comment_body, publish_comment
from promptguard.github import (
    GitHubClient,
    GitHubError,
    PullRequestTarget,
    graphql_url_for,
    resolve_target,
    validate_api_url,
)

TOKEN = "ghs_test0secret0token0ABCDEFGHIJKLMNOP"
REPOSITORY = "octo/prompts"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    server = FakeGitHub(TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake: FakeGitHub, sleeps: list[float]) -> GitHubClient:
    return GitHubClient(TOKEN, fake.url, sleep=sleeps.append)


@pytest.fixture
def actions_env(fake: FakeGitHub, sleeps: list[float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set the environment of a pull_request job on PR 7; return the event payload path."""
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("GITHUB_GRAPHQL_URL", "GITHUB_SERVER_URL", "GITHUB_RUN_ID", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    event_path = tmp_path / "event.json"
    write_event(event_path, fork=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event_path))
    monkeypatch.setenv("GITHUB_REF", "refs/pull/7/merge")
    monkeypatch.setattr(promptguard.github.time, "sleep", sleeps.append)
    return event_path


def write_event(path: Path, *, fork: bool, number: int = 7) -> None:
    head_repo = "someone/prompts" if fork else REPOSITORY
    payload = {
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"repo": {"full_name": head_repo, "fork": fork}},
            "base": {"repo": {"full_name": REPOSITORY}},
        },
    }
    path.write_text(json.dumps(payload), encoding="utf-8")


def write_report(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


def marker_comments(fake: FakeGitHub) -> list[dict[str, Any]]:
    return [comment for comment in fake.comments.values() if comment["body"].startswith(MARKER)]


# Client: pagination, writes and retries.


def test_list_follows_pagination(fake: FakeGitHub, client: GitHubClient) -> None:
    for index in range(250):
        fake.add_comment(f"comment {index}")

    comments = client.list_issue_comments(REPOSITORY, 7)

    assert [comment["body"] for comment in comments] == [f"comment {index}" for index in range(250)]
    assert len(fake.requests_for("GET")) == 3


def test_create_update_delete_comment(fake: FakeGitHub, client: GitHubClient) -> None:
    created = client.create_issue_comment(REPOSITORY, 7, "first")
    updated = client.update_issue_comment(REPOSITORY, created["id"], "second")

    assert updated["body"] == "second"
    assert fake.comments[created["id"]]["body"] == "second"

    client.delete_issue_comment(REPOSITORY, created["id"])

    assert created["id"] not in fake.comments


def test_minimize_comment_uses_graphql(fake: FakeGitHub, client: GitHubClient) -> None:
    comment = fake.add_comment("old")

    client.minimize_comment(comment["node_id"])

    assert fake.minimized == {comment["node_id"]}
    request = json.loads(fake.requests_for("POST")[0].body)
    assert request["variables"] == {"id": comment["node_id"], "classifier": "OUTDATED"}


def test_graphql_errors_raise(client: GitHubClient) -> None:
    with pytest.raises(GitHubError, match="Could not resolve to a node"):
        client.minimize_comment("IC_missing")


def test_retry_after_502(fake: FakeGitHub, client: GitHubClient, sleeps: list[float]) -> None:
    fake.fail_next("POST", 502, {"message": "Server Error"})

    created = client.create_issue_comment(REPOSITORY, 7, "hello")

    assert fake.comments[created["id"]]["body"] == "hello"
    assert sleeps == [1.0]


def test_backoff_doubles_on_repeated_5xx(fake: FakeGitHub, client: GitHubClient, sleeps: list[float]) -> None:
    fake.fail_next("GET", 503, times=3)

    client.list_issue_comments(REPOSITORY, 7)

    assert sleeps == [1.0, 2.0, 4.0]


def test_429_honours_retry_after(fake: FakeGitHub, client: GitHubClient, sleeps: list[float]) -> None:
    fake.fail_next("POST", 429, {"message": "Too Many Requests"}, {"Retry-After": "7"})

    client.create_issue_comment(REPOSITORY, 7, "hello")

    assert sleeps == [7.0]


def test_secondary_rate_limit_is_retried(fake: FakeGitHub, client: GitHubClient, sleeps: list[float]) -> None:
    body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    fake.fail_next("POST", 403, body)
    fake.fail_next("PATCH", 403, {"message": "Forbidden"}, {"Retry-After": "30"})

    created = client.create_issue_comment(REPOSITORY, 7, "hello")
    client.update_issue_comment(REPOSITORY, created["id"], "again")

    assert sleeps == [1.0, 30.0]


def test_retry_after_is_capped(fake: FakeGitHub, sleeps: list[float]) -> None:
    client = GitHubClient(TOKEN, fake.url, sleep=sleeps.append, max_wait_seconds=60)
    fake.fail_next("POST", 429, {"message": "Too Many Requests"}, {"Retry-After": "3600"})

    client.create_issue_comment(REPOSITORY, 7, "hello")

    assert sleeps == [60.0]


def test_permission_403_is_not_retried(fake: FakeGitHub, client: GitHubClient, sleeps: list[float]) -> None:
    fake.fail_next("POST", 403, {"message": "Resource not accessible by integration"})

    with pytest.raises(GitHubError, match="Resource not accessible by integration") as error:
        client.create_issue_comment(REPOSITORY, 7, "hello")

    assert error.value.status == 403
    assert sleeps == []


def test_gives_up_after_max_attempts(fake: FakeGitHub, client: GitHubClient, sleeps: list[float]) -> None:
    fake.fail_next("POST", 502, times=10)

    with pytest.raises(GitHubError, match="after 5 attempts"):
        client.create_issue_comment(REPOSITORY, 7, "hello")

    assert len(fake.requests_for("POST")) == 5
    assert len(sleeps) == 4


def test_connection_refused_is_retried(sleeps: list[float]) -> None:
    unused = FakeGitHub(TOKEN)
    url = unused.url
    unused.server.server_close()
    client = GitHubClient(TOKEN, url, sleep=sleeps.append, max_attempts=2)

    with pytest.raises(GitHubError, match="connection failed") as error:
        client.list_issue_comments(REPOSITORY, 7)

    assert error.value.status is None
    assert sleeps == [1.0]


def test_redirect_is_not_followed(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.redirect_to = "http://127.0.0.2:9/steal"

    with pytest.raises(GitHubError) as error:
        client.list_issue_comments(REPOSITORY, 7)

    assert error.value.status == 301
    assert len(fake.requests) == 1


def test_next_link_to_other_host_is_rejected(fake: FakeGitHub, client: GitHubClient) -> None:
    for index in range(101):
        fake.add_comment(f"comment {index}")
    fake.next_link_override = "http://127.0.0.2:9/steal?page=2"

    with pytest.raises(GitHubError, match=r"127\.0\.0\.2:9"):
        client.list_issue_comments(REPOSITORY, 7)

    assert len(fake.requests) == 1


def test_enterprise_api_path(fake: FakeGitHub, sleeps: list[float]) -> None:
    client = GitHubClient(TOKEN, fake.url + "/api/v3", sleep=sleeps.append)
    comment = fake.add_comment("old")

    client.create_issue_comment(REPOSITORY, 7, "hello")
    client.minimize_comment(comment["node_id"])

    paths = [request.path for request in fake.requests]
    assert paths == [f"/api/v3/repos/{REPOSITORY}/issues/7/comments", "/api/graphql"]


def test_token_not_in_error_text(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.fail_next("POST", 422, {"message": f"token {TOKEN} echoed"})

    with pytest.raises(GitHubError) as error:
        client.create_issue_comment(REPOSITORY, 7, "hello")

    assert TOKEN not in str(error.value)
    assert TOKEN not in repr(client)


# URLs and the Actions environment.


def test_graphql_url_for_enterprise() -> None:
    assert graphql_url_for("https://ghe.example/api/v3") == "https://ghe.example/api/graphql"
    assert graphql_url_for("https://api.github.com") == "https://api.github.com/graphql"


@pytest.mark.parametrize("url", ["http://ghe.example/api/v3", "ftp://api.github.com", "api.github.com"])
def test_unsafe_api_url_rejected(url: str) -> None:
    with pytest.raises(GitHubError):
        validate_api_url(url)


def test_target_from_event_payload(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    write_event(event, fork=True, number=42)

    target = resolve_target({"GITHUB_REPOSITORY": REPOSITORY, "GITHUB_EVENT_PATH": str(event)})

    assert target == PullRequestTarget(REPOSITORY, 42, from_fork=True)


def test_target_from_github_ref() -> None:
    target = resolve_target({"GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REF": "refs/pull/15/merge"})

    assert target == PullRequestTarget(REPOSITORY, 15, from_fork=None)


def test_target_options_win(tmp_path: Path) -> None:
    environ = {"GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REF": "refs/pull/15/merge"}

    target = resolve_target(environ, repository="other/repo", number=3)

    assert target == PullRequestTarget("other/repo", 3, from_fork=None)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "repository is not known"),
        ({"GITHUB_REPOSITORY": "../../etc"}, "invalid repository"),
        (
            {"GITHUB_REPOSITORY": REPOSITORY, "GITHUB_REF": "refs/heads/main"},
            "pull-request number is not known",
        ),
    ],
)
def test_target_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(GitHubError, match=message):
        resolve_target(environ)


# Comment behaviors.


def test_update_edits_newest_marker_comment(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.add_comment("unrelated")
    fake.add_comment(f"{MARKER}\nold report")
    target = PullRequestTarget(REPOSITORY, 7)

    outcome = publish_comment(client, target, f"{MARKER}\nnew report", CommentBehavior.UPDATE)

    assert outcome.action == "updated"
    assert [comment["body"] for comment in marker_comments(fake)] == [f"{MARKER}\nnew report"]
    assert len(fake.comments) == 2


def test_update_finds_marker_on_third_page(fake: FakeGitHub, client: GitHubClient) -> None:
    for index in range(230):
        fake.add_comment(f"comment {index}")
    old = fake.add_comment(f"{MARKER}\nold report")

    outcome = publish_comment(client, PullRequestTarget(REPOSITORY, 7), f"{MARKER}\nnew", CommentBehavior.UPDATE)

    assert outcome.comment_id == old["id"]
    assert fake.comments[old["id"]]["body"] == f"{MARKER}\nnew"


def test_update_same_body_sends_no_write(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.add_comment(f"{MARKER}\nsame")

    outcome = publish_comment(client, PullRequestTarget(REPOSITORY, 7), f"{MARKER}\nsame", CommentBehavior.UPDATE)

    assert outcome.action == "unchanged"
    assert fake.requests_for("PATCH") == []


def test_new_always_creates(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.add_comment(f"{MARKER}\nold report")

    publish_comment(client, PullRequestTarget(REPOSITORY, 7), f"{MARKER}\nnew", CommentBehavior.NEW)

    assert len(marker_comments(fake)) == 2
    assert fake.requests_for("GET") == []


def test_hide_and_new_minimizes_old(fake: FakeGitHub, client: GitHubClient) -> None:
    first = fake.add_comment(f"{MARKER}\nreport 1")
    second = fake.add_comment(f"{MARKER}\nreport 2")
    unrelated = fake.add_comment("a review remark")

    outcome = publish_comment(
        client,
        PullRequestTarget(REPOSITORY, 7),
        f"{MARKER}\nreport 3",
        CommentBehavior.HIDE_AND_NEW,
    )

    assert fake.minimized == {first["node_id"], second["node_id"]}
    assert unrelated["node_id"] not in fake.minimized
    assert outcome.removed == 2
    assert fake.comments[outcome.comment_id]["body"] == f"{MARKER}\nreport 3"


def test_delete_and_new_deletes_old(fake: FakeGitHub, client: GitHubClient) -> None:
    old = fake.add_comment(f"{MARKER}\nreport 1")
    unrelated = fake.add_comment("a review remark")

    outcome = publish_comment(
        client,
        PullRequestTarget(REPOSITORY, 7),
        f"{MARKER}\nreport 2",
        CommentBehavior.DELETE_AND_NEW,
    )

    assert old["id"] not in fake.comments
    assert unrelated["id"] in fake.comments
    assert [comment["id"] for comment in marker_comments(fake)] == [outcome.comment_id]


def test_failed_delete_still_creates(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.add_comment(f"{MARKER}\nsomeone else's copy")
    fake.fail_next("DELETE", 403, {"message": "Must have admin rights to Repository."})

    outcome = publish_comment(
        client, PullRequestTarget(REPOSITORY, 7), f"{MARKER}\nnew", CommentBehavior.DELETE_AND_NEW
    )

    assert outcome.action == "created"
    assert outcome.removed == 0
    assert len(marker_comments(fake)) == 2


def test_body_over_limit_is_truncated(fake: FakeGitHub, client: GitHubClient) -> None:
    body = build_comment_body(with_many_prompts(fail_report(), 3000), full_report_hint="the job log")
    assert len(body) <= 65_536

    outcome = publish_comment(client, PullRequestTarget(REPOSITORY, 7), body)

    posted = fake.comments[outcome.comment_id]["body"]
    assert posted.startswith(MARKER)
    assert "left out to fit GitHub's comment size limit" in posted


# The command, run through the CLI entry point.


def test_two_runs_leave_one_comment(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_comment("LGTM")
    report = write_report(tmp_path, pass_report())

    first = run_cli(["comment", "github", "--report", str(report)])
    report.write_text(json.dumps(fail_report()), encoding="utf-8")
    second = run_cli(["comment", "github", "--report", str(report)])

    assert (first, second) == (0, 0)
    comments = marker_comments(fake)
    assert len(comments) == 1
    assert "promptguard: fail" in comments[0]["body"]
    assert len(fake.comments) == 2
    assert "updated on octo/prompts#7" in capsys.readouterr().out


def test_command_posts_large_report(fake: FakeGitHub, actions_env: Path, tmp_path: Path) -> None:
    report = write_report(tmp_path, with_many_prompts(fail_report(), 3000))

    exit_code = run_cli(
        [
            "comment",
            "github",
            "--report",
            str(report),
            "--full-report-url",
            "https://ci.example/run/1",
        ]
    )

    assert exit_code == 0
    [comment] = marker_comments(fake)
    assert len(comment["body"]) <= 65_536
    assert "The full report is in <https://ci.example/run/1>." in comment["body"]


def test_fork_403_warns_and_passes(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_event(actions_env, fork=True)
    fake.fail_next("POST", 403, {"message": "Resource not accessible by integration"}, times=10)
    report = write_report(tmp_path, pass_report())

    exit_code = run_cli(["comment", "github", "--report", str(report), "--fail-on-error"])

    assert exit_code == 0
    err = capsys.readouterr().err
    assert "warning: comment not posted" in err
    assert "fork" in err
    assert "workflow_run" in err
    assert len(fake.requests_for("POST")) == 1


def test_permanent_failure_warns(
    fake: FakeGitHub,
    actions_env: Path,
    tmp_path: Path,
    sleeps: list[float],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.fail_next("POST", 502, times=10)
    report = write_report(tmp_path, pass_report())

    exit_code = run_cli(["comment", "github", "--report", str(report)])

    assert exit_code == 0
    assert "warning: comment not posted" in capsys.readouterr().err
    assert len(sleeps) == 4


def test_fail_on_error_exits_2(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next("POST", 403, {"message": "Resource not accessible by integration"}, times=10)
    report = write_report(tmp_path, pass_report())

    exit_code = run_cli(["comment", "github", "--report", str(report), "--fail-on-error"])

    assert exit_code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: comment not posted")
    assert "pull-requests: write" in err


def test_missing_token_is_input_error(
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    report = write_report(tmp_path, pass_report())

    exit_code = run_cli(["comment", "github", "--report", str(report)])

    assert exit_code == 2
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err


def test_invalid_report_is_input_error(actions_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = pass_report()
    del document["totals"]
    report = write_report(tmp_path, document)

    exit_code = run_cli(["comment", "github", "--report", str(report)])

    assert exit_code == 2
    assert "'totals' is a required property" in capsys.readouterr().err


def test_token_never_printed(
    fake: FakeGitHub,
    actions_env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    report = write_report(tmp_path, fail_report())
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(pass_report()), encoding="utf-8")
    fake.fail_next("GET", 502)
    fake.fail_next("POST", 429, {"message": f"slow down {TOKEN}"}, {"Retry-After": "1"})
    fake.fail_next("PATCH", 422, {"message": f"bad {TOKEN}"}, times=10)
    fake.add_comment(f"{MARKER}\nold")

    codes = [
        run_cli(["-vv", "comment", "github", "--report", str(report), "--behavior", "new"]),
        run_cli(["-vv", "comment", "github", "--report", str(report)]),
        run_cli(["-vv", "comment", "github", "--report", str(changed), "--fail-on-error"]),
    ]

    assert codes == [0, 0, 2]
    captured = capsys.readouterr()
    assert "retrying" in captured.err
    assert TOKEN not in captured.out
    assert TOKEN not in captured.err
    assert TOKEN not in caplog.text
    assert "***" in captured.err
