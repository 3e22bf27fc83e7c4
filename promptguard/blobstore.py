"""Batched blob reads: many git blobs from one `git cat-file --batch` run.

`Repository.read_blob` requests one object per round trip from GitPython's
long-lived `cat-file` process, so reading the prompts of two revisions costs
thousands of round trips. `BlobStore.prefetch` reads them all with one
process and keeps the contents in memory for `read`.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterable

from promptguard.revisions import FileEntry, Repository, Revision

logger = logging.getLogger(__name__)


class BlobStore:
    """Blob contents read ahead in one batch, with `Repository.read` for everything else."""

    def __init__(self, repository: Repository):
        self.repository = repository
        self._contents: dict[str, bytes] = {}

    def prefetch(self, blobs: Iterable[str]) -> None:
        """Read every blob not yet held with one `git cat-file --batch` run.

        A blob that git reports missing, or any failure of the run, is logged
        at debug level and left to `read`, which raises the usual error.
        """
        requested = sorted({blob for blob in blobs if blob not in self._contents})
        if not requested:
            return
        try:
            process = subprocess.run(
                ["git", "cat-file", "--batch"],
                cwd=self.repository.root,
                input="".join(f"{blob}\n" for blob in requested).encode("ascii"),
                capture_output=True,
                check=True,
            )
        except (OSError, subprocess.CalledProcessError) as error:
            logger.debug("git cat-file --batch failed, so blobs are read one at a time: %s", error)
            return
        self._contents.update(parse_batch_output(process.stdout))

    def read(self, revision: Revision, entry: FileEntry) -> bytes:
        """Return the content of a file at a revision, from the prefetched blobs when possible."""
        if entry.blob is not None:
            data = self._contents.get(entry.blob)
            if data is not None:
                return data
        return self.repository.read(revision, entry)


def parse_batch_output(output: bytes) -> dict[str, bytes]:
    """Split `git cat-file --batch` output into {blob id: content}, skipping objects reported missing.

    Each object is a header line `<id> <type> <size>`, then `size` bytes of
    content and a newline. A missing object is the single line `<name> missing`.
    """
    contents: dict[str, bytes] = {}
    position = 0
    while position < len(output):
        header_end = output.index(b"\n", position)
        header = output[position:header_end].split(b" ")
        position = header_end + 1
        if len(header) != 3:
            logger.debug("git cat-file: %s", b" ".join(header).decode("utf-8", "replace"))
            continue
        size = int(header[2])
        if header[1] == b"blob":
            contents[header[0].decode("ascii")] = output[position : position + size]
        position += size + 1
    return contents
