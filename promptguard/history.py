"""Prompt history: input tokens and cost of each prompt at every commit that changed it.

One `git log --raw -M` over the directories of the prompts lists every
version of every prompt with its blob id. Renames are followed backwards as `git log --follow`
does, for all prompts at once: when a version of a prompt is an addition
in a commit that has a parent, `git log -M` of that commit over the whole tree
shows whether it was a rename from a path outside the walked paths,
and the walk is repeated with those paths added. Each distinct blob is read
and counted once, and counts are kept in the on-disk `TokenCache`.

`run_history` returns a `HistoryResult`; it knows nothing of click or formats.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import itertools
import json
import logging
import posixpath
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from promptguard import budgets as budget_rules
from promptguard.config import Config, PromptSpec
from promptguard.discovery import discover
from promptguard.errors import PromptguardError, RevisionError
from promptguard.formats import detect_format, render_prompt
from promptguard.paths import normalize_repo_path, resolve_include
from promptguard.pricing import PriceBook
from promptguard.revisions import Repository, Revision
from promptguard.tokencache import CacheKey, TokenCache
from promptguard.tokenizers import (
    REPLY_PRIMING_TOKENS,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    Message,
    Tokenizer,
    tokenizer_for,
)

logger = logging.getLogger(__name__)

# Bump when rendering or the counting recipe changes, so old cache entries stop matching.
COUNT_RULES_VERSION = 1
MAX_JUMPS = 3
# Volatility band: a version is flagged when its input tokens fall outside the
# median of the previous BAND_WINDOW versions plus or minus BAND_WIDTH scaled
# median absolute deviations. 1.4826 scales the MAD to the standard deviation
# of normally distributed data. The half-width is at least BAND_MIN_FRACTION
# of the median, so a prompt that never changed size does not flag every edit.
BAND_WINDOW = 5
BAND_MIN_POINTS = 3
BAND_WIDTH = Decimal(3)
MAD_SCALE = Decimal("1.4826")
BAND_MIN_FRACTION = Decimal("0.05")
# Rename sources are searched at most this many times (one git log each).
MAX_RENAME_ROUNDS = 10
RENAME_QUERY_CHUNK = 1000
# Pathspecs of one `git log` over the prompts. Past this many, paths are walked by their directories.
MAX_PATHSPECS = 32
LOG_FORMAT = "--format=%x1e%H%x00%aI%x00%an%x00%s"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:?\d{2}|Z)?)?$")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CommitInfo:
    """A commit as `git log` shows it: full id, author date (ISO 8601), author name and subject."""

    commit: str
    date: str
    author: str
    subject: str


@dataclass(frozen=True)
class FileChange:
    """One `git log --raw` entry: status letter, path, path before a rename, new blob id."""

    status: str
    path: str
    previous_path: str | None
    blob: str


@dataclass(frozen=True)
class LogEntry:
    commit: CommitInfo
    changes: tuple[FileChange, ...]


@dataclass(frozen=True)
class Version:
    """One version of a prompt: the commit that wrote it, the path there and its blob id."""

    commit: CommitInfo
    path: str
    blob: str
    status: str


@dataclass(frozen=True)
class HistoryPoint:
    """One version of a prompt with its figures."""

    commit: str
    date: str
    author: str
    subject: str
    path: str
    input_tokens: int
    cost_per_request: Decimal


@dataclass(frozen=True)
class Jump:
    """The change of input tokens from one version to the next."""

    commit: str
    date: str
    subject: str
    previous_input_tokens: int
    input_tokens: int
    delta: int
    delta_pct: Decimal | None
    cost_delta: Decimal


@dataclass(frozen=True)
class BandFlag:
    """A version whose input tokens fall outside the volatility band of the versions before it."""

    commit: str
    date: str
    input_tokens: int
    median: Decimal
    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class PromptHistory:
    """The versions of one prompt, oldest first, with the largest jumps, growth and flagged ones."""

    path: str
    model: str
    encoding: str
    token_count_method: str
    points: tuple[HistoryPoint, ...]
    largest_jumps: tuple[Jump, ...]
    growth_pct: Decimal | None
    flagged: tuple[BandFlag, ...]


@dataclass(frozen=True)
class HistoryResult:
    head: Revision
    since: str | None
    prompts: tuple[PromptHistory, ...]
    warnings: tuple[str, ...]
    cache_hits: int = 0
    cache_misses: int = 0


@dataclass(frozen=True)
class HistoryOptions:
    """Selection of prompts (repository paths, all when empty) and of the period to show."""

    prompts: tuple[str, ...] = ()
    since: str | None = None
    max_count: int | None = None
    head: str = "HEAD"


# Reading the history from git.


def parse_raw_log(output: bytes) -> list[LogEntry]:
    """Parse `git log -z --raw --no-abbrev --format=%x1e%H%x00%aI%x00%an%x00%s` output."""
    tokens = [token.decode("utf-8", "surrogateescape").lstrip("\n") for token in output.split(b"\0")]
    entries: list[LogEntry] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token:
            index += 1
            continue
        if not token.startswith("\x1e") or index + 3 >= len(tokens):
            raise RevisionError(f"unexpected git log output near {token[:40]!r}", fix="report this as a bug")
        commit = CommitInfo(token[1:], tokens[index + 1], tokens[index + 2], tokens[index + 3])
        changes, index = parse_raw_changes(tokens, index + 4)
        entries.append(LogEntry(commit, tuple(changes)))
    return entries


def parse_raw_changes(tokens: Sequence[str], index: int) -> tuple[list[FileChange], int]:
    """Parse the `--raw -z` entries starting at tokens[index]; return them and the index after them.

    An entry is `:old_mode new_mode old_blob new_blob status`, then one path,
    or the old and the new path for a rename (R) or copy (C).
    """
    changes: list[FileChange] = []
    while index < len(tokens) and tokens[index].startswith(":"):
        meta = tokens[index][1:].split(" ")
        blob, status = meta[3], meta[4]
        if status[0] in "RC":
            changes.append(FileChange(status[0], tokens[index + 2], tokens[index + 1], blob))
            index += 3
        else:
            changes.append(FileChange(status[0], tokens[index + 1], None, blob))
            index += 2
    return changes, index


def read_log(repository: Repository, head: str, paths: Iterable[str]) -> list[LogEntry]:
    """Return the commits reachable from `head` that touched any of `paths`, newest first.

    Git matches each of hundreds of literal pathspecs against every changed
    file: 450 of them made one `git log` of the fabric prompts take 0.5 s,
    against 0.03 s for the two directories that contain them. So git walks
    the directories from `directory_pathspecs`. The entries then also show
    other files of those directories, which `follow` passes over, and renames
    from them, which it follows.
    """
    output = repository.run(
        "log",
        "-z",
        "--raw",
        "-M",
        "--no-abbrev",
        "--no-color",
        "--no-show-signature",
        LOG_FORMAT,
        head,
        "--",
        *directory_pathspecs(paths),
    )
    return parse_raw_log(output)


def directory_pathspecs(paths: Iterable[str]) -> list[str]:
    """Return pathspecs that match every one of `paths`, as few directories as possible.

    Directories are widened one level at a time until at most MAX_PATHSPECS
    remain. Files at the top level stay literal, and no directory is widened
    to the whole repository.
    """
    files = sorted({path for path in paths if "/" not in path})
    directories = {posixpath.dirname(path) for path in paths if "/" in path}
    while len(directories) + len(files) > MAX_PATHSPECS and any("/" in directory for directory in directories):
        directories = {posixpath.dirname(directory) if "/" in directory else directory for directory in directories}
    # A directory inside another one listed adds nothing.
    outermost = sorted(
        directory for directory in directories if not any(directory.startswith(other + "/") for other in directories)
    )
    return [f":(top,literal){path}" for path in (*outermost, *files)]


def follow(
    entries: Sequence[LogEntry], path: str, renames: Mapping[tuple[str, str], str], index: LogIndex | None = None
) -> list[Version]:
    """Return the versions of `path`, newest first, following renames backwards through `entries`.

    `renames` maps (commit, path) to the previous path for renames that the
    walked paths alone do not show. Like `git log --follow`, the walk goes on
    past an addition that is not a rename, so a file deleted and later added
    again at the same path keeps its older versions. Pass the `LogIndex` of
    `entries` when following many paths through the same entries.
    """
    index = index or LogIndex(entries)
    versions: list[Version] = []
    tracked = path
    position = -1
    while True:
        found = index.next_change(tracked, position)
        if found is None:
            return versions
        position, change = found
        commit = entries[position].commit
        versions.append(Version(commit, change.path, change.blob, change.status))
        if change.status in ("R", "C") and change.previous_path:
            tracked = change.previous_path
        else:
            tracked = renames.get((commit.commit, change.path), tracked)


class LogIndex:
    """For each path, the positions in a log of the entries that wrote it (deletions left out)."""

    def __init__(self, entries: Sequence[LogEntry]):
        self._positions: dict[str, list[int]] = {}
        self._changes: dict[str, list[FileChange]] = {}
        for position, entry in enumerate(entries):
            seen: set[str] = set()
            for change in entry.changes:
                # Only the first change of a path in one commit counts, as in a scan of the entry.
                if change.status == "D" or change.path in seen:
                    continue
                seen.add(change.path)
                self._positions.setdefault(change.path, []).append(position)
                self._changes.setdefault(change.path, []).append(change)

    def next_change(self, path: str, after: int) -> tuple[int, FileChange] | None:
        """Return the first entry position past `after` that wrote `path`, with that change."""
        positions = self._positions.get(path)
        if positions is None:
            return None
        found = bisect.bisect_right(positions, after)
        if found == len(positions):
            return None
        return positions[found], self._changes[path][found]


def rename_sources(repository: Repository, additions: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Return {(commit, path): previous path} for additions that are renames in the whole tree."""
    wanted: dict[str, set[str]] = {}
    for commit, path in additions:
        wanted.setdefault(commit, set()).add(path)
    commits = sorted(wanted)
    sources: dict[tuple[str, str], str] = {}
    for start in range(0, len(commits), RENAME_QUERY_CHUNK):
        # Each commit is diffed with its first parent over the whole tree,
        # so a rename from any path shows.
        output = repository.run(
            "log",
            "--no-walk=unsorted",
            "-z",
            "--raw",
            "-M",
            "--diff-filter=R",
            "--no-abbrev",
            "--no-color",
            "--no-show-signature",
            LOG_FORMAT,
            *commits[start : start + RENAME_QUERY_CHUNK],
        )
        for entry in parse_raw_log(output):
            for change in entry.changes:
                if change.path in wanted.get(entry.commit.commit, ()) and change.previous_path:
                    sources[(entry.commit.commit, change.path)] = change.previous_path
    return sources


def collect_versions(repository: Repository, head: str, paths: Sequence[str]) -> dict[str, list[Version]]:
    """Return every version of each path reachable from `head`, newest first, renames followed."""
    walked = set(paths)
    renames: dict[tuple[str, str], str] = {}
    checked: set[tuple[str, str]] = set()
    entries = read_log(repository, head, walked)
    roots = _root_commits(repository, head)
    for _ in range(MAX_RENAME_ROUNDS):
        index = LogIndex(entries)
        versions = {path: follow(entries, path, renames, index) for path in paths}
        # An addition in a commit with a parent may be a rename from a path outside the walked ones.
        additions = {
            (version.commit.commit, version.path)
            for chain in versions.values()
            for version in chain
            if version.status == "A" and version.commit.commit not in roots
        } - checked
        if not additions:
            return versions
        checked |= additions
        renames.update(rename_sources(repository, additions))
        new_paths = set(renames.values()) - walked
        if new_paths:
            walked |= new_paths
            entries = read_log(repository, head, walked)
    logger.warning(
        "stopped following renames after %d rounds; the oldest versions may be missing",
        MAX_RENAME_ROUNDS,
    )
    index = LogIndex(entries)
    return {path: follow(entries, path, renames, index) for path in paths}


def _root_commits(repository: Repository, head: str) -> set[str]:
    return set(repository.run("rev-list", "--max-parents=0", head).decode().split())


# Counting: each distinct (blob, settings) once, through the on-disk cache.


def settings_hash(path: str, spec: PromptSpec, tokenizer: Tokenizer) -> str:
    """Return a hash of everything besides the blob content that decides a prompt's input tokens."""
    settings = {
        "rules": COUNT_RULES_VERSION,
        "format": detect_format(path, spec.format, spec.key),
        # The suffix decides JSON or YAML parsing of chat and embedded prompts.
        "json": path.lower().endswith(".json"),
        "key": spec.key,
        "role": spec.role,
        "variables": spec.variables,
        "method": tokenizer.method,
        "factor": str(tokenizer.estimate_factor),
        "recipe": [TOKENS_PER_MESSAGE, TOKENS_PER_NAME, REPLY_PRIMING_TOKENS],
    }
    text = json.dumps(settings, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def total_input_tokens(content_counts: Iterable[int], name_counts: Iterable[int]) -> int:
    """Apply the chat recipe of `Tokenizer.count_messages` to counts of each content and name."""
    total = REPLY_PRIMING_TOKENS + sum(TOKENS_PER_MESSAGE + count for count in content_counts)
    return total + sum(TOKENS_PER_NAME + count for count in name_counts)


def count_batches(batch: Sequence[tuple[Tokenizer, Sequence[Message]]]) -> list[int]:
    """Count the input tokens of several prompts, one `count_texts` call per tokenizer."""
    totals = [0] * len(batch)
    by_tokenizer: dict[Tokenizer, list[int]] = {}
    for position, (tokenizer, _) in enumerate(batch):
        by_tokenizer.setdefault(tokenizer, []).append(position)
    for tokenizer, positions in by_tokenizer.items():
        contents = iter(tokenizer.count_texts([m.content for p in positions for m in batch[p][1]]))
        names = iter(tokenizer.count_texts([m.name for p in positions for m in batch[p][1] if m.name is not None]))
        for position in positions:
            messages = batch[position][1]
            content_counts = [next(contents) for _ in messages]
            name_counts = [next(names) for message in messages if message.name is not None]
            totals[position] = total_input_tokens(content_counts, name_counts)
    return totals


@dataclass(frozen=True)
class CountJob:
    """One version to count: its blob at a commit, read as `path` with a prompt's settings."""

    blob: str
    commit: str
    path: str
    spec: PromptSpec
    tokenizer: Tokenizer

    @property
    def key(self) -> CacheKey:
        return CacheKey(
            self.blob,
            self.tokenizer.encoding_name,
            settings_hash(self.path, self.spec, self.tokenizer),
        )


BATCH_SIZE = 64


class BlobCounter:
    """Counts input tokens of prompt versions, reading and counting each distinct blob once.

    A template that includes other files depends on more than its own blob, so
    its count is neither cached nor shared across commits.
    """

    def __init__(self, repository: Repository, cache: TokenCache, progress: Progress | None = None):
        self.repository = repository
        self.cache = cache
        self.progress = progress
        self.warnings: list[str] = []
        self._trees: dict[str, Mapping[str, str]] = {}

    def count(self, jobs: Sequence[CountJob]) -> dict[tuple[CacheKey, str], int]:
        """Return input tokens per (cache key, commit).

        Versions that fail to render are left out, with a warning in `warnings`.
        """
        groups: dict[CacheKey, list[CountJob]] = {}
        for job in jobs:
            groups.setdefault(job.key, []).append(job)
        cached = self.cache.get_many(groups)
        counts: dict[tuple[CacheKey, str], int] = {}
        for key, count in cached.items():
            for job in groups[key]:
                counts[(key, job.commit)] = count

        pending = [key for key in groups if key not in cached]
        done = len(cached)
        self._report(done, len(groups))
        for start in range(0, len(pending), BATCH_SIZE):
            keys = pending[start : start + BATCH_SIZE]
            fresh: dict[CacheKey, int] = {}
            rendered = self._render_all([groups[key][0] for key in keys])
            for job, total, uses_includes in rendered:
                if uses_includes:
                    counts.update(self._count_each_commit(groups[job.key]))
                    continue
                fresh[job.key] = total
                for same in groups[job.key]:
                    counts[(job.key, same.commit)] = total
            self.cache.put_many(fresh)
            done += len(keys)
            self._report(done, len(groups))
        return counts

    def _report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def _count_each_commit(self, jobs: Sequence[CountJob]) -> dict[tuple[CacheKey, str], int]:
        return {(job.key, job.commit): total for job, total, _ in self._render_all(jobs)}

    def _render_all(self, jobs: Sequence[CountJob]) -> list[tuple[CountJob, int, bool]]:
        """Render and count jobs into (job, input tokens, whether the render read includes)."""
        rendered: list[tuple[CountJob, Sequence[Message], bool]] = []
        for job in jobs:
            included: list[str] = []
            try:
                prompt = render_prompt(
                    self.repository.read_blob(job.blob),
                    job.path,
                    format=job.spec.format,
                    key=job.spec.key,
                    role=job.spec.role,
                    variables=job.spec.variables,
                    include_reader=self._include_reader(job, included),
                )
            except PromptguardError as error:
                self.warnings.append(f"{job.path} at {job.commit[:12]} skipped: {error}")
                continue
            rendered.append((job, prompt.messages, bool(included)))
        totals = count_batches([(job.tokenizer, messages) for job, messages, _ in rendered])
        return [(job, total, uses) for (job, _, uses), total in zip(rendered, totals, strict=True)]

    def _include_reader(self, job: CountJob, included: list[str]) -> Callable[[str], str | None]:
        def read(name: str) -> str | None:
            included.append(name)
            tree = self._tree(job.commit)
            resolved = resolve_include(job.path, name, tree.__contains__)
            if resolved is None:
                return None
            data = self.repository.read_blob(tree[resolved])
            return data.decode("utf-8-sig", "replace").replace("\r\n", "\n")

        return read

    def _tree(self, commit: str) -> Mapping[str, str]:
        if commit not in self._trees:
            files = self.repository.list_files(Revision(commit, commit))
            self._trees[commit] = {path: entry.blob for path, entry in files.items() if entry.blob}
        return self._trees[commit]


# Largest jumps, growth and the volatility band of a series of versions.


def largest_jumps(points: Sequence[HistoryPoint], count: int = MAX_JUMPS) -> tuple[Jump, ...]:
    """Return the `count` largest input-token changes between consecutive points, largest first."""
    jumps = [
        Jump(
            commit=current.commit,
            date=current.date,
            subject=current.subject,
            previous_input_tokens=previous.input_tokens,
            input_tokens=current.input_tokens,
            delta=current.input_tokens - previous.input_tokens,
            delta_pct=budget_rules.increase_pct(previous.input_tokens, current.input_tokens),
            cost_delta=current.cost_per_request - previous.cost_per_request,
        )
        for previous, current in itertools.pairwise(points)
        if current.input_tokens != previous.input_tokens
    ]
    # Stable sort: among equal sizes the older jump comes first.
    return tuple(sorted(jumps, key=lambda jump: -abs(jump.delta))[:count])


def growth_pct(points: Sequence[HistoryPoint]) -> Decimal | None:
    """Return the percentage change of input tokens from the first to the last point."""
    if not points:
        return None
    return budget_rules.increase_pct(points[0].input_tokens, points[-1].input_tokens)


def volatility_flags(points: Sequence[HistoryPoint]) -> tuple[BandFlag, ...]:
    """Flag points outside the rolling median band of the BAND_WINDOW points before them."""
    flags: list[BandFlag] = []
    for index in range(BAND_MIN_POINTS, len(points)):
        window = [Decimal(point.input_tokens) for point in points[max(0, index - BAND_WINDOW) : index]]
        median = Decimal(statistics.median(window))
        mad = Decimal(statistics.median([abs(value - median) for value in window]))
        half_width = max(BAND_WIDTH * MAD_SCALE * mad, BAND_MIN_FRACTION * median)
        low, high = median - half_width, median + half_width
        value = points[index].input_tokens
        if value < low or value > high:
            point = points[index]
            flags.append(BandFlag(point.commit, point.date, value, median, low, high))
    return tuple(flags)


# The period shown: --since DATE or REF, then --max-count.


def parse_date(text: str) -> datetime.datetime:
    """Parse an ISO 8601 date or date-time; one without a time zone is read as UTC."""
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _period_filter(repository: Repository, head_commit: str, since: str | None) -> Callable[[Version], bool] | None:
    """Return whether a version lies inside the period, or None when the whole history is shown."""
    if since is None:
        return None
    if _DATE.match(since):
        try:
            start = parse_date(since)
        except ValueError as error:
            raise RevisionError(f"invalid date {since!r} for --since", fix="use YYYY-MM-DD, e.g. 2025-01-31") from error
        return lambda version: parse_date(version.commit.date) >= start
    start_commit = repository.resolve_commit(since)
    inside = set(repository.run("rev-list", f"{start_commit}..{head_commit}").decode().split())
    return lambda version: version.commit.commit in inside


def select_period(
    versions: Sequence[Version], inside: Callable[[Version], bool] | None, max_count: int | None
) -> list[Version]:
    """Return the versions to show, oldest first.

    They are the version in effect at the start of the period, then the versions inside it.
    """
    oldest_first = list(reversed(versions))
    if inside is not None:
        flags = [inside(version) for version in oldest_first]
        before = [version for version, flag in zip(oldest_first, flags, strict=True) if not flag]
        oldest_first = before[-1:] + [version for version, flag in zip(oldest_first, flags, strict=True) if flag]
    if max_count is not None:
        oldest_first = oldest_first[-max_count:] if max_count > 0 else []
    return oldest_first


# The command's core.


def select_prompts(
    found: Mapping[str, PromptSpec],
    files: Iterable[str],
    requested: Sequence[str],
    config: Config,
    head_label: str,
) -> dict[str, PromptSpec]:
    """Return the requested paths (prompts or not), else every discovered prompt, with settings."""
    if not requested:
        return dict(found)
    present = set(files)
    selected: dict[str, PromptSpec] = {}
    for raw in requested:
        path = normalize_repo_path(raw, what="prompt path")
        if path not in present:
            raise RevisionError(
                f"prompt {raw!r} does not exist at {head_label}",
                fix="give the path, relative to the repository root, of a file at that revision",
            )
        selected[path] = found.get(path) or config.default_prompt(path)
    return selected


def run_history(
    repository: Repository,
    config: Config,
    options: HistoryOptions,
    cache: TokenCache,
    progress: Progress | None = None,
) -> HistoryResult:
    """Walk the history of the selected prompts and count every version in the period."""
    head = Revision(options.head, repository.resolve_commit(options.head))
    assert head.commit is not None
    files = repository.list_files(head)
    specs = select_prompts(discover(files, config).prompts, files, options.prompts, config, options.head)
    inside = _period_filter(repository, head.commit, options.since)
    all_versions = collect_versions(repository, head.commit, sorted(specs)) if specs else {}

    tokenizers = {path: tokenizer_for(spec.model, config.model_aliases) for path, spec in specs.items()}
    shown = {path: select_period(all_versions[path], inside, options.max_count) for path in sorted(specs)}
    jobs = {
        path: [CountJob(v.blob, v.commit.commit, v.path, specs[path], tokenizers[path]) for v in versions]
        for path, versions in shown.items()
    }
    counter = BlobCounter(repository, cache, progress)
    counts = counter.count([job for path_jobs in jobs.values() for job in path_jobs])

    prices = PriceBook(config.pricing, config.price_date, config.model_aliases)
    prompts: list[PromptHistory] = []
    for path, versions in shown.items():
        spec = specs[path]
        points: list[HistoryPoint] = []
        for version, job in zip(versions, jobs[path], strict=True):
            input_tokens = counts.get((job.key, job.commit))
            if input_tokens is None:
                continue
            cost = prices.request_cost(spec.model, input_tokens, spec.expected_output_tokens)
            info = version.commit
            points.append(
                HistoryPoint(
                    info.commit,
                    info.date,
                    info.author,
                    info.subject,
                    version.path,
                    input_tokens,
                    cost,
                )
            )
        tokenizer = tokenizers[path]
        prompts.append(
            PromptHistory(
                path=path,
                model=spec.model,
                encoding=tokenizer.encoding_name,
                token_count_method=tokenizer.method,
                points=tuple(points),
                largest_jumps=largest_jumps(points),
                growth_pct=growth_pct(points),
                flagged=volatility_flags(points),
            )
        )
    return HistoryResult(
        head=head,
        since=options.since,
        prompts=tuple(prompts),
        warnings=tuple(counter.warnings),
        cache_hits=cache.hits,
        cache_misses=cache.misses,
    )


# Drift budgets for check: head compared with the prompt as it was window_days earlier.


@dataclass(frozen=True)
class PromptDrift:
    """One prompt at the start of a drift window and at head.

    The start figures are None for a prompt added inside the window.
    """

    path: str
    window_days: int
    start_commit: str | None
    start_input_tokens: int | None
    start_monthly_cost: Decimal | None
    head_input_tokens: int
    head_monthly_cost: Decimal

    @property
    def input_tokens_growth_pct(self) -> Decimal | None:
        if self.start_input_tokens is None:
            return None
        return budget_rules.increase_pct(self.start_input_tokens, self.head_input_tokens)

    @property
    def monthly_cost_growth_pct(self) -> Decimal | None:
        if self.start_monthly_cost is None:
            return None
        return budget_rules.increase_pct(self.start_monthly_cost, self.head_monthly_cost)


@dataclass(frozen=True)
class DriftFigures:
    """Drift of every prompt at head over one window, and of their total monthly cost."""

    window_days: int
    window_start: str
    prompts: Mapping[str, PromptDrift]

    @property
    def total_monthly_cost_growth_pct(self) -> Decimal | None:
        """Growth of the summed monthly cost; prompts added inside the window count from zero."""
        start = sum(
            (d.start_monthly_cost for d in self.prompts.values() if d.start_monthly_cost),
            Decimal(0),
        )
        head = sum((d.head_monthly_cost for d in self.prompts.values()), Decimal(0))
        return budget_rules.increase_pct(start, head)


def drift_figure(budget: str, drift: PromptDrift) -> Decimal | None:
    """Return the figure a drift budget limits for one prompt, or None when it does not apply."""
    if budget == "max_input_tokens_growth_pct":
        return drift.input_tokens_growth_pct
    if budget == "max_monthly_cost_growth_pct":
        return drift.monthly_cost_growth_pct
    return None


def version_at(versions: Sequence[Version], moment: datetime.datetime) -> Version | None:
    """Return the first of `versions` (newest first) whose author date is at or before `moment`."""
    for version in versions:
        if parse_date(version.commit.date) <= moment:
            return version
    return None


def head_date(repository: Repository, commit: str) -> datetime.datetime:
    """Return the author date of a commit."""
    return parse_date(repository.run("show", "-s", "--no-show-signature", "--format=%aI", commit).decode().strip())


def drift_figures(
    repository: Repository,
    config: Config,
    head: Revision,
    results: Sequence[Any],
    specs: Mapping[str, PromptSpec],
    window_days: int,
    cache: TokenCache | None = None,
) -> DriftFigures:
    """Compute the drift of each prompt of a check between the start of the window and head.

    `results` are the check's `PromptResult`s; those without a head side (removed
    prompts) are skipped. The window ends at the author date of head, or of
    HEAD when head is the index or the working tree, whose prompts are then
    looked up at HEAD under their path before any uncommitted rename.
    """
    anchor = head.commit if head.commit is not None else repository.resolve_commit("HEAD")
    start = head_date(repository, anchor) - datetime.timedelta(days=window_days)
    current = [result for result in results if result.head is not None and result.path in specs]
    lookup = {
        result.path: (result.previous_path if head.commit is None and result.previous_path else result.path)
        for result in current
    }
    present = repository.list_files(Revision(anchor, anchor))
    walked = sorted({path for path in lookup.values() if path in present})
    versions = collect_versions(repository, anchor, walked) if walked else {}

    tokenizers = {result.path: tokenizer_for(specs[result.path].model, config.model_aliases) for result in current}
    starts: dict[str, Version] = {}
    for result in current:
        found = version_at(versions.get(lookup[result.path], []), start)
        if found is not None:
            starts[result.path] = found
    jobs = {
        path: CountJob(v.blob, v.commit.commit, v.path, specs[path], tokenizers[path]) for path, v in starts.items()
    }
    counts = BlobCounter(repository, cache or TokenCache.disabled()).count(list(jobs.values()))

    prices = PriceBook(config.pricing, config.price_date, config.model_aliases)
    drifts: dict[str, PromptDrift] = {}
    for result in current:
        spec = specs[result.path]
        job = jobs.get(result.path)
        start_tokens = counts.get((job.key, job.commit)) if job else None
        start_monthly = None
        if start_tokens is not None:
            cost = prices.request_cost(spec.model, start_tokens, spec.expected_output_tokens)
            start_monthly = cost * spec.requests_per_month
        drifts[result.path] = PromptDrift(
            path=result.path,
            window_days=window_days,
            start_commit=job.commit if job and start_tokens is not None else None,
            start_input_tokens=start_tokens,
            start_monthly_cost=start_monthly,
            head_input_tokens=result.head.input_tokens,
            head_monthly_cost=result.head.monthly_cost,
        )
    return DriftFigures(window_days, start.isoformat(), drifts)
