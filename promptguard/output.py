"""Writing reports: to stdout, or atomically to a file (a temporary file, then a rename)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from promptguard.errors import OutputError


def write_report(text: str, destination: str | None) -> None:
    """Write the report to `destination`, or stdout when it is None or '-'; never leave half a file."""
    if destination in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    assert destination is not None
    path = Path(destination)
    if path.exists() and not path.is_file():
        _write_special(text, destination, path)
        return
    # Replace the file a symbolic link points to, not the link itself.
    path = path.resolve() if path.is_symlink() else path
    directory = path.parent if str(path.parent) else Path(".")
    if directory.exists() and not directory.is_dir():
        raise OutputError(
            f"cannot write report {destination!r}: {str(directory)!r} is a file, not a directory",
            fix="choose another --output path",
        )
    if not directory.is_dir():
        raise OutputError(
            f"cannot write report {destination!r}: directory {str(directory)!r} does not exist",
            fix="create the directory first, or choose another --output path",
        )
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        temporary = None
    except OSError as error:
        raise OutputError(
            f"cannot write report {destination!r}: {error.strerror or error}",
            fix="check the path, its permissions and free disk space",
        ) from error
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _write_special(text: str, destination: str, path: Path) -> None:
    """Write to an existing non-regular file (/dev/stdout, a FIFO) in place; a rename would replace it."""
    if path.is_dir():
        raise OutputError(f"cannot write report {destination!r}: it is a directory", fix="name a file inside it")
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
    except OSError as error:
        raise OutputError(
            f"cannot write report {destination!r}: {error.strerror or error}",
            fix="check the path, its permissions and free disk space",
        ) from error
