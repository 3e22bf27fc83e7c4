"""Repository-relative paths: keep every path from config or fixtures inside the repository."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePosixPath

from promptguard.errors import ConfigError


def resolve_inside(root: Path, relative: str, *, what: str, allow_outside: bool = False) -> Path:
    """Resolve `relative` against `root`, rejecting paths that leave the repository.

    Symbolic links are resolved first, so a link pointing outside is rejected too.
    """
    root_resolved = root.resolve()
    candidate = (root / relative).resolve()
    if not allow_outside and not candidate.is_relative_to(root_resolved):
        raise ConfigError(
            f"{what} {relative!r} is outside the repository {root_resolved}",
            fix="use a path inside the repository, relative to its root",
        )
    return candidate


def normalize_repo_path(relative: str, *, what: str) -> str:
    """Return a clean POSIX path relative to the repository root, or raise if it escapes it."""
    if "\\" in relative:
        relative = relative.replace("\\", "/")
    if relative.startswith("/") or re.match(r"^[A-Za-z]:/", relative):
        raise ConfigError(f"{what} {relative!r} is an absolute path", fix="use a path relative to the repository root")
    cleaned = posixpath.normpath(relative)
    if cleaned == ".." or cleaned.startswith("../"):
        raise ConfigError(f"{what} {relative!r} points outside the repository", fix="remove the '..' segments")
    return "" if cleaned == "." else cleaned


def resolve_include(including_path: str, name: str, exists: Callable[[str], bool]) -> str | None:
    """Return the repository path of a template that `including_path` includes as `name`, or None if none exists.

    The name resolves next to the including file first, then from the
    repository root. A name that leaves the repository raises ConfigError.
    """
    for candidate in (posixpath.join(posixpath.dirname(including_path), name), name):
        normalized = normalize_repo_path(candidate, what="included template")
        if exists(normalized):
            return normalized
    return None


def _translate_segment(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif char == "{":
            end = segment.find("}", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                options = segment[i + 1 : end].split(",")
                out.append("(?:" + "|".join(_translate_segment(o) for o in options) + ")")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob with `**` (any number of directories), `*`, `?`, `[...]` and `{a,b}`."""
    parts = PurePosixPath(pattern).parts if pattern else ()
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _translate_segment(part) + ("" if last else "/")
    return re.compile(regex + r"\Z")


def glob_match(pattern: str, path: str) -> bool:
    """Return True if the repository path matches the glob."""
    return glob_regex(pattern).match(path) is not None


def is_glob(pattern: str) -> bool:
    """Return True if the pattern contains glob syntax rather than naming one file."""
    return any(char in pattern for char in "*?[{")
