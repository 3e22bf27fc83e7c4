"""The on-disk token-count cache: round trip, size bound, damaged files and concurrent writers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from promptguard.tokencache import CACHE_FILE_NAME, CacheKey, TokenCache, default_cache_dir


def key(number: int) -> CacheKey:
    return CacheKey(f"{number:040x}", "o200k_base", "settings")


def test_round_trip(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "counts.sqlite3")
    cache.put_many({key(1): 10, key(2): 20})

    found = cache.get_many([key(1), key(2), key(3)])
    cache.close()

    assert found == {key(1): 10, key(2): 20}
    assert cache.hits == 2
    assert cache.misses == 1


def test_oldest_entries_deleted_past_limit(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "counts.sqlite3", max_rows=3)
    for number in range(5):
        cache.put_many({key(number): number})

    found = cache.get_many([key(number) for number in range(5)])
    cache.close()

    assert found == {key(2): 2, key(3): 3, key(4): 4}


def test_corrupt_file_disables_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "counts.sqlite3"
    path.write_bytes(b"not a database" * 200)

    cache = TokenCache(path)
    cache.put_many({key(1): 1})

    assert not cache.enabled
    assert cache.get_many([key(1)]) == {}
    assert "token-count cache" in caplog.text
    assert "delete the file" in caplog.text


def test_unwritable_directory_disables_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    cache = TokenCache(blocker / "cache" / "counts.sqlite3")

    assert not cache.enabled
    assert "unusable" in caplog.text


def test_invalid_stored_count_ignored(tmp_path: Path) -> None:
    path = tmp_path / "counts.sqlite3"
    TokenCache(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO token_counts VALUES (?, ?, ?, ?)", (*key(1), "many"))
        connection.execute("INSERT INTO token_counts VALUES (?, ?, ?, ?)", (*key(2), -5))

    cache = TokenCache(path)
    found = cache.get_many([key(1), key(2)])
    cache.close()

    assert found == {}


def test_many_keys_in_one_query(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "counts.sqlite3")
    counts = {key(number): number for number in range(1_200)}
    cache.put_many(counts)

    found = cache.get_many(counts)
    cache.close()

    assert found == counts


def test_default_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMPTGUARD_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"

    monkeypatch.delenv("PROMPTGUARD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "promptguard"

    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "promptguard"
    assert CACHE_FILE_NAME.endswith(".sqlite3")


WRITER = """
import sys
from pathlib import Path
from promptguard.tokencache import CacheKey, TokenCache

cache = TokenCache(Path(sys.argv[1]))
offset = int(sys.argv[2])
for batch in range(40):
    keys = [CacheKey(f"{offset + batch * 10 + i:040x}", "o200k_base", "s") for i in range(10)]
    cache.put_many({key: i for i, key in enumerate(keys)})
    cache.get_many([CacheKey(f"{offset:040x}", "o200k_base", "s")])
assert cache.enabled, "the cache was disabled during concurrent writes"
cache.close()
"""


def test_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "counts.sqlite3"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(offset)],
            env=dict(os.environ),
            stderr=subprocess.PIPE,
        )
        for offset in (0, 100_000)
    ]
    errors = [writer.communicate(timeout=60)[1] for writer in writers]

    for writer, stderr in zip(writers, errors, strict=True):
        assert writer.returncode == 0, stderr.decode()
        assert b"warning" not in stderr
    cache = TokenCache(path)
    keys = [CacheKey(f"{offset + n:040x}", "o200k_base", "s") for offset in (0, 100_000) for n in range(400)]
    assert len(cache.get_many(keys)) == 800
    cache.close()
