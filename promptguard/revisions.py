"""Git revisions: resolve refs safely and read prompt files at a commit, the index or the working tree.

Every ref and path given by a user or a pull request is checked before it
reaches git: a value starting with `-` is rejected, and refs are passed after
`--end-of-options`, so none can be read as a git option.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from promptguard.errors import RevisionError

if TYPE_CHECKING:
    import git

logger = logging.getLogger(__name__)

INDEX = "INDEX"
WORKTREE = "WORKTREE"

ChangeKind = Literal["added", "removed", "modified", "renamed", "unchanged"]

SHALLOW_FIX = (
    "the clone is shallow: fetch the history, e.g. `git fetch --deepen=200` or `actions/checkout` with `fetch-depth: 0`"
)
DEFAULT_BRANCH_CANDIDATES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")


@dataclass(frozen=True)
class FileEntry:
    """A file at a revision: its path and git blob id (None for untracked working-tree files)."""

    path: str
    blob: str | None
    mode: str = "100644"


@dataclass(frozen=True)
class Change:
    """The change of one path between base and head, with git's rename detection."""

    kind: ChangeKind
    path: str
    previous_path: str | None = None


@dataclass(frozen=True)
class Revision:
    """One side of a comparison: a commit, the index (staged changes) or the working tree."""

    label: str
    commit: str | None
    kind: Literal["commit", "index", "worktree"] = "commit"


def check_ref_is_safe(ref: str) -> None:
    """Reject refs that git could read as options or that cannot be refs at all."""
    if not ref or ref.startswith("-"):
        raise RevisionError(
            f"invalid revision {ref!r}: revisions must not start with '-'",
            fix="pass a branch, tag or commit id, for example --base origin/main",
        )
    if any(char in ref for char in "\0\n\r") or ref.strip() != ref:
        raise RevisionError(f"invalid revision {ref!r}", fix="pass a branch, tag or commit id")


class Repository:
    """A git repository in a work tree.

    Commands run as plain `git` subprocesses. GitPython is imported only for
    `read_blob`, because its long-lived `git cat-file` suits the many single
    reads of history. A check reads its blobs in one batch through
    `BlobStore`, so the pre-commit path does not import GitPython.
    """

    def __init__(self, path: Path):
        self._repo: git.Repo | None = None
        directory = Path(path)
        if not directory.is_dir():
            raise RevisionError(
                f"{directory.resolve()} is not inside a git repository",
                fix="run promptguard from your repository, or `git init`",
            )
        bare = _git_output(directory, "rev-parse", "--is-bare-repository")
        if bare is None:
            raise RevisionError(
                f"{directory.resolve()} is not inside a git repository",
                fix="run promptguard from your repository, or `git init`",
            )
        top = _git_output(directory, "rev-parse", "--show-toplevel") if bare.strip() != b"true" else None
        if not top or not top.strip():
            raise RevisionError(
                f"{directory} is a bare repository", fix="run promptguard in a checkout with a work tree"
            )
        self.root = Path(top.decode("utf-8", "surrogateescape").strip())

    def close(self) -> None:
        """Stop the git processes GitPython keeps open, if it was used."""
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def _gitpython(self) -> git.Repo:
        if self._repo is None:
            import git

            self._repo = git.Repo(self.root)
        return self._repo

    def run(self, *args: str) -> bytes:
        """Run a git command in the repository and return its raw standard output."""
        result = subprocess.run(["git", *args], cwd=self.root, capture_output=True, check=False)
        if result.returncode != 0:
            raise _GitFailed(result.stderr.decode("utf-8", "replace").strip())
        return result.stdout

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == b"true"

    def has_commits(self) -> bool:
        try:
            self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        except _GitFailed:
            return False
        return True

    def resolve_commit(self, ref: str) -> str:
        """Return the full commit id of `ref`, or raise with the reason and the fix."""
        check_ref_is_safe(ref)
        try:
            return (
                self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").decode().strip()
            )
        except _GitFailed:
            pass
        if ref == "HEAD" and not self.has_commits():
            raise RevisionError(
                "the repository has no commits yet", fix="commit your prompts first, or use --worktree after one commit"
            )
        if self.is_shallow():
            raise RevisionError(f"revision {ref!r} not found in this shallow clone", fix=SHALLOW_FIX)
        raise RevisionError(
            f"unknown revision {ref!r}", fix="check the name with `git rev-parse`, or fetch it: git fetch origin"
        )

    def default_base(self, head_commit: str) -> tuple[str, str]:
        """Return (label, commit) of the merge base of head with the default branch, as a pull request compares them."""
        for candidate in DEFAULT_BRANCH_CANDIDATES:
            try:
                branch = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}")
            except _GitFailed:
                continue
            branch_commit = branch.decode().strip()
            try:
                merge_base = self.run("merge-base", branch_commit, head_commit).decode().strip()
            except _GitFailed as error:
                if self.is_shallow():
                    raise RevisionError(
                        f"no merge base of HEAD and {candidate} in this shallow clone", fix=SHALLOW_FIX
                    ) from error
                raise RevisionError(
                    f"HEAD and {candidate} have no common ancestor (an orphan branch?)",
                    fix="name the base explicitly with --base REF",
                ) from error
            label = f"merge-base({candidate}, HEAD)"
            return label, merge_base
        raise RevisionError(
            "no default branch found (tried origin/HEAD, origin/main, origin/master, main, master)",
            fix="name the base explicitly with --base REF",
        )

    def merge_base(self, first: str, second: str) -> str:
        try:
            return self.run("merge-base", first, second).decode().strip()
        except _GitFailed as error:
            raise RevisionError(
                f"{first[:12]} and {second[:12]} have no common ancestor",
                fix=SHALLOW_FIX if self.is_shallow() else "name the base explicitly with --base REF",
            ) from error

    def list_files(self, revision: Revision) -> dict[str, FileEntry]:
        """List the regular files (and symbolic links) at a revision."""
        entries: dict[str, FileEntry] = {}
        if revision.kind == "commit":
            assert revision.commit is not None
            output = self.run("ls-tree", "-r", "-z", "--full-tree", revision.commit)
            for record in _split_z(output):
                meta, _, path = record.partition("\t")
                mode, object_type, blob = meta.split(" ")
                if object_type == "blob":
                    entries[path] = FileEntry(path, blob, mode)
        elif revision.kind == "index":
            output = self.run("ls-files", "-s", "-z")
            for record in _split_z(output):
                meta, _, path = record.partition("\t")
                mode, blob, stage = meta.split(" ")
                if stage in ("0", "2") and mode != "160000":
                    entries[path] = FileEntry(path, blob, mode)
        else:
            output = self.run("ls-files", "-z", "--cached", "--others", "--exclude-standard")
            for path in _split_z(output):
                full = self.root / path
                if full.is_file() or full.is_symlink():
                    entries[path] = FileEntry(path, None)
        return entries

    def read(self, revision: Revision, entry: FileEntry) -> bytes:
        """Return the content of a file at a revision."""
        if entry.blob is not None:
            return self.read_blob(entry.blob)
        full = self.root / entry.path
        if full.is_symlink():
            # Git stores a link as its target path; mirror that rather than follow it out of the repository.
            return os.readlink(full).encode("utf-8", "surrogateescape")
        return full.read_bytes()

    def read_blob(self, blob: str) -> bytes:
        stream = self._gitpython().odb.stream(bytes.fromhex(blob))
        data: bytes = stream.read()
        return data

    def changes(self, base: Revision, head: Revision) -> list[Change]:
        """Return git's view of the paths changed between base and head, renames detected."""
        assert base.commit is not None
        args = ["diff", "--name-status", "-z", "-M", "--no-ext-diff", "--no-textconv"]
        if head.kind == "commit":
            assert head.commit is not None
            args += [base.commit, head.commit]
        elif head.kind == "index":
            args += ["--cached", base.commit]
        else:
            args += [base.commit]
        args.append("--")
        fields = _split_z(self.run(*args))
        changes: list[Change] = []
        index = 0
        while index < len(fields):
            status = fields[index]
            if status.startswith(("R", "C")):
                old, new = fields[index + 1], fields[index + 2]
                index += 3
                changes.append(Change("renamed", new, old) if status.startswith("R") else Change("added", new))
                continue
            path = fields[index + 1]
            index += 2
            kind: ChangeKind = {"A": "added", "D": "removed"}.get(status[0], "modified")  # type: ignore[assignment]
            changes.append(Change(kind, path))
        if head.kind == "worktree":
            # `git diff` ignores untracked files; they are additions for us.
            for path in _split_z(self.run("ls-files", "-z", "--others", "--exclude-standard")):
                changes.append(Change("added", path))
        return changes

    def log_paths(self, *args: str) -> Iterator[str]:
        yield from _split_z(self.run("log", "-z", *args))


class _GitFailed(Exception):
    """A git command exited non-zero; callers turn this into a RevisionError with a fix."""


def _split_z(output: bytes) -> list[str]:
    return [part.decode("utf-8", "surrogateescape") for part in output.split(b"\0") if part]


def _git_output(directory: Path, *args: str) -> bytes | None:
    """Return the output of a git command run in `directory`, or None if it fails."""
    try:
        result = subprocess.run(["git", *args], cwd=directory, capture_output=True, check=False)
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def run_git(root: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git outside a Repository (used to build repositories in the demo)."""
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if result.returncode != 0:
        raise RevisionError(f"git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout
