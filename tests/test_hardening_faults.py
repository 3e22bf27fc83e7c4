"""Faults around a correct run: report files that cannot be written, a misbehaving GitHub API,
a broken token cache, fixtures with impossible figures, and no network at all.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from report_builders import pass_report

import promptguard.github
from promptguard.github import GitHubClient, GitHubError
from tests.conftest import REPO_ROOT, GitRepo
from tests.test_hardening_inputs import CONFIG, assert_clean_error, committed, json_report, prompt_entry

__all__ = ["committed"]

TOKEN = "ghs_hardening0secret0token0XYZ"


# Report files that cannot be written: exit 2 with the path, and no half-written file.


def test_output_parent_is_file(committed: GitRepo, run_cli: Any) -> None:
    committed.write("plain.txt", "a file")
    result = run_cli(["check", "--base", "HEAD", "--output", "plain.txt/report.json"], committed.root)
    assert_clean_error(result, "plain.txt/report.json", "is a file, not a directory")
    assert (committed.root / "plain.txt").read_text() == "a file"


def test_output_under_proc_rejected(committed: GitRepo, run_cli: Any) -> None:
    # /proc refuses new files even for root, which runs these tests.
    result = run_cli(["check", "--base", "HEAD", "--output", "/proc/promptguard-report.json"], committed.root)
    assert_clean_error(result, "/proc/promptguard-report.json", "check the path, its permissions and free disk space")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_disk_full(committed: GitRepo, run_cli: Any) -> None:
    result = run_cli(["check", "--base", "HEAD", "--output", "/dev/full"], committed.root)
    assert_clean_error(result, "/dev/full", "No space left on device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode), "the device node must not be replaced by a file"


def test_output_fsync_failure_leaves_old_report(
    committed: GitRepo, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = committed.write("out/report.json", "previous report\n")

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    result = run_cli(["check", "--base", "HEAD", "--output", "out/report.json"], committed.root)
    assert_clean_error(result, "out/report.json", "No space left on device")
    assert previous.read_text() == "previous report\n"
    assert sorted(path.name for path in previous.parent.iterdir()) == ["report.json"]


def test_output_through_symlink_keeps_link(committed: GitRepo, run_cli: Any) -> None:
    target = committed.write("reports/real.json", "old\n")
    link = committed.root / "latest.json"
    os.symlink(target, link)
    result = run_cli(["check", "--base", "HEAD", "--format", "json", "--output", "latest.json"], committed.root)
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink()
    assert json.loads(target.read_text())["version"] == 1


# A GitHub API that misbehaves: every failure is a GitHubError without the token, never a crash.


class _CannedHandler(BaseHTTPRequestHandler):
    status = 200
    body = b"{}"
    content_type = "application/json"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = do_PATCH = _answer


@pytest.fixture
def canned_server() -> Iterator[Any]:
    """Start a loopback server answering every request with `handler.status` and `handler.body`."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, body: bytes, content_type: str = "application/json") -> str:
        handler = type("Handler", (_CannedHandler,), {"status": status, "body": body, "content_type": content_type})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        (200, b"<html>Sign in to the proxy</html>", "returned HTTP 200 with a body that is not JSON"),
        (200, b"\xff\xfe not utf-8", "returned HTTP 200 with a body that is not JSON"),
        (201, b"[]", "returned no comment id"),
        (201, b'{"id": "12"}', "returned no comment id"),
    ],
    ids=["html_body", "invalid_utf8", "array_body", "string_id"],
)
def test_malformed_api_answers(canned_server: Any, status: int, body: bytes, fragment: str) -> None:
    url = canned_server(status, body)
    client = GitHubClient(TOKEN, url, sleep=lambda seconds: None)
    with pytest.raises(GitHubError) as caught:
        client.create_issue_comment("octo/prompts", 7, "report")
    assert fragment in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_api_timeout_retried_then_raises() -> None:
    # A listening socket that never answers: every request times out.
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    sleeps: list[float] = []
    try:
        client = GitHubClient(
            TOKEN,
            f"http://127.0.0.1:{silent.getsockname()[1]}",
            sleep=sleeps.append,
            max_attempts=3,
            timeout_seconds=0.2,
        )
        with pytest.raises(GitHubError) as caught:
            client.list_issue_comments("octo/prompts", 7)
    finally:
        silent.close()
    message = str(caught.value)
    assert "after 3 attempts" in message
    assert "timed out" in message
    assert TOKEN not in message
    assert sleeps == [1.0, 2.0]


def test_comment_disconnects_warn_and_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: Any) -> None:
    # A server that closes every connection at once: retried, then a warning and exit 0.
    closing = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closing.bind(("127.0.0.1", 0))
    closing.listen(8)
    stop = threading.Event()

    def close_all() -> None:
        closing.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = closing.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=close_all, daemon=True)
    thread.start()
    report = tmp_path / "report.json"
    report.write_text(json.dumps(_minimal_report()))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{closing.getsockname()[1]}")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/prompts")
    sleeps: list[float] = []
    monkeypatch.setattr(promptguard.github.time, "sleep", sleeps.append)
    try:
        result = run_cli(["comment", "github", "--report", str(report), "--pr", "7"], tmp_path)
    finally:
        stop.set()
        thread.join()
        closing.close()
    assert result.exit_code == 0, result.stderr
    assert "warning: comment not posted" in result.stderr
    assert "connection failed" in result.stderr
    assert TOKEN not in result.stderr
    assert len(sleeps) == 4


def _minimal_report() -> dict[str, Any]:
    report: dict[str, Any] = pass_report()
    return report


# The token cache: corrupt, unwritable or shared, the figures stay right.

HISTORY_CONFIG = 'model = "gpt-4o"\nprice_date = "2026-12-01"\ninclude = ["prompts/*.md"]\n'


@pytest.fixture
def history_repo(repo: GitRepo) -> GitRepo:
    repo.write("promptguard.toml", HISTORY_CONFIG)
    for index in range(3):
        repo.write("prompts/a.md", "Grow. " * (index + 1) * 20)
        repo.commit(f"version {index}")
    return repo


def _history(run_cli: Any, repo: GitRepo) -> str:
    result = run_cli(["history", "--format", "json"], repo.root)
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def test_corrupt_cache_same_figures(
    history_repo: GitRepo, run_cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMPTGUARD_CACHE_DIR", str(tmp_path / "fresh"))
    expected = _history(run_cli, history_repo)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "token-counts.sqlite3").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("PROMPTGUARD_CACHE_DIR", str(corrupt))
    assert _history(run_cli, history_repo) == expected


def test_unwritable_cache_same_figures(
    history_repo: GitRepo, run_cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMPTGUARD_CACHE_DIR", str(tmp_path / "fresh"))
    expected = _history(run_cli, history_repo)
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache directory cannot be created under a regular file")
    monkeypatch.setenv("PROMPTGUARD_CACHE_DIR", str(blocker / "cache"))
    assert _history(run_cli, history_repo) == expected


def test_shared_cache_two_processes(history_repo: GitRepo, tmp_path: Path) -> None:
    environment = {**os.environ, "PROMPTGUARD_CACHE_DIR": str(tmp_path / "shared")}
    command = [sys.executable, "-m", "promptguard", "history", "--format", "json"]
    runs = [
        subprocess.Popen(
            command, cwd=history_repo.root, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    for run, (_stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr.decode()
    assert outputs[0][0] == outputs[1][0]
    again = subprocess.run(command, cwd=history_repo.root, env=environment, capture_output=True, check=True)
    assert again.stdout == outputs[0][0]


# Fixtures with impossible figures are skipped and named; the rest are counted.


@pytest.mark.parametrize(
    ("usage", "reason"),
    [
        ({"input_tokens": -5, "output_tokens": 3}, "fails 'minimum'"),
        ({"input_tokens": 10**30, "output_tokens": 3}, "input_tokens over 100,000,000"),
        ({"input_tokens": 1.5, "output_tokens": 3}, "is not of type 'integer'"),
    ],
    ids=["negative", "absurd", "fractional"],
)
def test_impossible_fixture_skipped(committed: GitRepo, run_cli: Any, usage: dict[str, Any], reason: str) -> None:
    good = {"output": "fine", "usage": {"input_tokens": 40, "output_tokens": 10}}
    bad = {"output": "fine", "usage": usage}
    committed.write("f.jsonl", f"{json.dumps(good)}\n{json.dumps(bad)}\n")
    committed.write("promptguard.toml", CONFIG + 'fixtures = "f.jsonl"\n')
    result = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "json"], committed.root)
    assert "skipped fixture record f.jsonl:2: " in result.stderr
    assert reason in result.stderr
    entry = prompt_entry(json_report(result), "prompts/a.md")
    assert entry["head"]["output_tokens"] == 10
    strict = run_cli(["check", "--base", "HEAD", "--worktree", "--strict"], committed.root)
    assert_clean_error(strict, "f.jsonl:2", reason)


# No network at all: the whole check runs in a network namespace without interfaces.


def _can_unshare_network() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare_network(), reason="needs `unshare --net` (root or user namespaces)")
def test_check_without_network(committed: GitRepo, run_cli: Any) -> None:
    committed.write("prompts/a.md", "A longer prompt now, with more words in it.\n")
    in_process = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "json"], committed.root)
    isolated = subprocess.run(
        [
            "unshare",
            "--net",
            sys.executable,
            "-m",
            "promptguard",
            "check",
            "--base",
            "HEAD",
            "--worktree",
            "--format",
            "json",
        ],
        cwd=committed.root,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert isolated.returncode == 0, isolated.stderr
    assert json.loads(isolated.stdout)["prompts"] == json.loads(in_process.stdout)["prompts"]
