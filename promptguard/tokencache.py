"""On-disk cache of input-token counts, keyed by git blob id, encoding and a hash of the settings.

A prompt's input tokens depend only on its content (the blob), the encoding
and the rendering settings, so a count computed once stays right forever.
The cache is one SQLite file in write-ahead-log mode with a busy timeout, so
two runs can share it. It keeps at most `max_rows` entries and deletes the
oldest ones past that. Any failure to open, read or write it (a corrupt
file, a read-only directory, a lock held too long) is logged once as a
warning, and the run goes on without the cache: the figures stay right, they
are only computed again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

logger = logging.getLogger(__name__)

CACHE_FILE_NAME = "token-counts.sqlite3"
DEFAULT_MAX_ROWS = 500_000
BUSY_TIMEOUT_SECONDS = 10.0
_OPEN_ATTEMPTS = 10
# SQLite limits the host parameters of one statement (32,766 since 3.32).
_QUERY_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS token_counts (
    blob TEXT NOT NULL,
    encoding TEXT NOT NULL,
    settings TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    PRIMARY KEY (blob, encoding, settings)
)
"""


class CacheKey(NamedTuple):
    """What a token count depends on: the git blob id, the encoding name and the settings hash."""

    blob: str
    encoding: str
    settings: str


def default_cache_dir() -> Path:
    """Return $PROMPTGUARD_CACHE_DIR, else "promptguard" in $XDG_CACHE_HOME or ~/.cache."""
    configured = os.environ.get("PROMPTGUARD_CACHE_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "promptguard"
    return Path.home() / ".cache" / "promptguard"


class TokenCache:
    """Token counts stored in SQLite; every method degrades to a no-op once the cache has failed."""

    def __init__(self, path: Path | None, max_rows: int = DEFAULT_MAX_ROWS):
        self.path = path
        self.max_rows = max_rows
        self.hits = 0
        self.misses = 0
        self._connection: sqlite3.Connection | None = None
        if path is not None:
            self._connection = self._open(path)

    @classmethod
    def open_default(cls) -> TokenCache:
        return cls(default_cache_dir() / CACHE_FILE_NAME)

    @classmethod
    def disabled(cls) -> TokenCache:
        return cls(None)

    @property
    def enabled(self) -> bool:
        return self._connection is not None

    def _open(self, path: Path) -> sqlite3.Connection | None:
        # Switching a new file to WAL takes an exclusive lock, and SQLite raises
        # "database is locked" at once, without its busy handler, when a second
        # process does the same; a few short retries let the first one finish.
        for attempt in range(_OPEN_ATTEMPTS):
            connection: sqlite3.Connection | None = None
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
                connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute(_SCHEMA)
                return connection
            except sqlite3.OperationalError as error:
                if connection is not None:
                    connection.close()
                if "locked" in str(error) and attempt + 1 < _OPEN_ATTEMPTS:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                self._warn(error, path)
                return None
            except (sqlite3.Error, OSError) as error:
                if connection is not None:
                    connection.close()
                self._warn(error, path)
                return None
        return None

    def _disable(self, error: Exception) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._warn(error, self.path)

    @staticmethod
    def _warn(error: Exception, path: Path | None) -> None:
        logger.warning(
            "token-count cache %s is unusable (%s: %s); counting without it, "
            "delete the file or set PROMPTGUARD_CACHE_DIR to a writable directory",
            path,
            type(error).__name__,
            error,
        )

    def get_many(self, keys: Iterable[CacheKey]) -> dict[CacheKey, int]:
        """Return the cached counts of the keys found; missing or invalid entries are left out."""
        wanted = list(dict.fromkeys(keys))
        found: dict[CacheKey, int] = {}
        if self._connection is None:
            self.misses += len(wanted)
            return found
        try:
            for start in range(0, len(wanted), _QUERY_CHUNK):
                chunk = wanted[start : start + _QUERY_CHUNK]
                conditions = " OR ".join("(blob = ? AND encoding = ? AND settings = ?)" for _ in chunk)
                parameters = [value for key in chunk for value in key]
                rows = self._connection.execute(
                    f"SELECT blob, encoding, settings, input_tokens FROM token_counts WHERE {conditions}",
                    parameters,
                ).fetchall()
                for blob, encoding, settings, input_tokens in rows:
                    # Any other value comes from a damaged file, so that version is counted again.
                    if isinstance(input_tokens, int) and input_tokens >= 0:
                        found[CacheKey(blob, encoding, settings)] = input_tokens
        except sqlite3.Error as error:
            self._disable(error)
            self.misses += len(wanted)
            return {}
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def put_many(self, counts: Mapping[CacheKey, int]) -> None:
        """Store counts in one transaction, then delete the oldest entries past `max_rows`."""
        if self._connection is None or not counts:
            return
        try:
            with _Transaction(self._connection):
                self._connection.executemany(
                    "INSERT OR REPLACE INTO token_counts (blob, encoding, settings, input_tokens) VALUES (?, ?, ?, ?)",
                    [(*key, count) for key, count in counts.items()],
                )
                # INSERT OR REPLACE gives a rewritten row a new rowid,
                # so the lowest rowids are the oldest writes.
                self._connection.execute(
                    "DELETE FROM token_counts WHERE rowid IN"
                    " (SELECT rowid FROM token_counts ORDER BY rowid"
                    " LIMIT max(0, (SELECT count(*) FROM token_counts) - ?))",
                    (self.max_rows,),
                )
        except sqlite3.Error as error:
            self._disable(error)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; the connection runs in autocommit mode."""

    def __init__(self, connection: sqlite3.Connection):
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, error_type: object, error: object, traceback: object) -> None:
        if error_type is None:
            self._connection.execute("COMMIT")
        else:
            # The original error propagates and disables the cache.
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")
