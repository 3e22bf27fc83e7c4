"""The check: count and price every prompt at base and head, diff them, and evaluate budgets.

`run_check` returns a `CheckResult`. This module does not use click, exit
codes or output formats.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from promptguard import budgets as budget_rules
from promptguard.blobstore import BlobStore
from promptguard.budget_check import evaluate_budgets
from promptguard.budgets import BudgetResult, Level
from promptguard.config import Config, PromptSpec
from promptguard.discovery import discover, report_unmatched
from promptguard.formats import RenderedPrompt, decode_prompt, referenced_variables, render_prompt
from promptguard.history import count_batches, settings_hash
from promptguard.hunks import Hunk, diff_hunks
from promptguard.paths import resolve_include
from promptguard.pricing import PriceBook, PricingSource
from promptguard.revisions import INDEX, WORKTREE, Change, ChangeKind, FileEntry, Repository, Revision
from promptguard.scope import (
    SCAN_CACHE_NAME,
    SCAN_CACHE_VERSION,
    Scope,
    every_prompt_reason,
    may_leave_out,
    reads_templates,
    renders_templates,
)
from promptguard.success_cost import SuccessCost, replay_prompt
from promptguard.tokencache import CacheKey, TokenCache
from promptguard.tokenizers import Tokenizer, tokenizer_for

logger = logging.getLogger(__name__)

HeadMode = Literal["commit", "index", "worktree"]


@dataclass(frozen=True)
class PromptSide:
    """Figures of one prompt at one revision."""

    input_tokens: int
    output_tokens: int
    cost_per_request: Decimal
    monthly_cost: Decimal
    requests_per_month: int
    messages: int
    source_text: str = field(repr=False, compare=False, default="")
    # Replay of recorded responses; when present, cost_per_request and
    # monthly_cost come from it (retries and fallback included).
    success: SuccessCost | None = None


@dataclass(frozen=True)
class PromptResult:
    """One prompt compared between base and head.

    `change` is "unchanged" only when the file and every figure are the same. A
    prompt whose file is the same but whose figures differ is "modified".
    """

    path: str
    previous_path: str | None
    change: ChangeKind
    model: str
    encoding: str
    token_count_method: Literal["exact", "estimated"]
    base: PromptSide | None
    head: PromptSide | None
    hunks: tuple[Hunk, ...] = ()

    @property
    def input_tokens_delta(self) -> int:
        return (self.head.input_tokens if self.head else 0) - (self.base.input_tokens if self.base else 0)

    @property
    def monthly_cost_delta(self) -> Decimal:
        return (self.head.monthly_cost if self.head else Decimal(0)) - (
            self.base.monthly_cost if self.base else Decimal(0)
        )


@dataclass(frozen=True)
class Totals:
    """Sums over every compared prompt, unchanged ones included unless `--changed-only` left them out."""

    base_input_tokens: int
    head_input_tokens: int
    base_monthly_cost: Decimal
    head_monthly_cost: Decimal

    @property
    def monthly_cost_delta(self) -> Decimal:
        return self.head_monthly_cost - self.base_monthly_cost


@dataclass(frozen=True)
class CheckResult:
    """Everything a report shows."""

    base: Revision
    head: Revision
    pricing: PricingSource
    prompts: tuple[PromptResult, ...]
    totals: Totals
    budgets: tuple[BudgetResult, ...]
    warnings: tuple[str, ...]
    scope: Scope = field(default_factory=Scope)

    @property
    def status(self) -> Level:
        return budget_rules.overall_level(self.budgets)

    @property
    def violations(self) -> tuple[BudgetResult, ...]:
        return tuple(result for result in self.budgets if result.level != "pass")


@dataclass(frozen=True)
class CheckOptions:
    """The revisions to compare; a `base` of None means the merge base with the default branch.

    With `changed_only`, prompts that `promptguard.scope` finds unchanged in
    every respect are left out of the comparison and the totals.
    """

    base: str | None = None
    head: str | None = None
    mode: HeadMode = "commit"
    changed_only: bool = False


def resolve_revisions(repository: Repository, options: CheckOptions) -> tuple[Revision, Revision]:
    """Resolve the base and head revisions for the options given."""
    if options.mode == "commit":
        head_ref = options.head or "HEAD"
        head = Revision(head_ref, repository.resolve_commit(head_ref))
    else:
        head_commit = repository.resolve_commit("HEAD")
        head = Revision(INDEX if options.mode == "index" else WORKTREE, None, options.mode)
        if options.base is None:
            # Staged and working-tree checks compare with HEAD, as `git diff` does.
            return Revision("HEAD", head_commit), head

    if options.base is not None:
        return Revision(options.base, repository.resolve_commit(options.base)), head
    anchor = head.commit if head.commit is not None else repository.resolve_commit("HEAD")
    label, commit = repository.default_base(anchor)
    return Revision(label, commit), head


class _Counter:
    """Renders, counts and prices prompts, once per distinct (content, settings).

    `prepare` counts the sides of a whole check in one pass before `side` is
    called for each: blobs come from one `git cat-file --batch` run, counts of
    prompts that render from their own blob alone come from the token-count
    cache, and the rest are rendered and counted in one batch per tokenizer.
    A side whose count was not prepared is rendered and counted on its own.
    """

    # The token-count cache stores the number of chat messages of a prompt
    # under this name in place of an encoding, because it depends on no encoding.
    MESSAGE_COUNT = "message-count"

    def __init__(self, repository: Repository, config: Config, prices: PriceBook, cache: TokenCache | None = None):
        self.repository = repository
        self.config = config
        self.prices = prices
        self.blobs = BlobStore(repository)
        self.cache = cache or TokenCache.disabled()
        self._tokenizers: dict[str, Tokenizer] = {}
        # Counts by (blob, path, spec id) for prompts rendered from their own blob,
        # and by (blob, path, spec id, revision) for those that read included files.
        self._counts: dict[tuple[object, ...], _Count] = {}
        self._sides: dict[tuple[object, ...], PromptSide] = {}
        self._variable_counts: dict[tuple[str, str, int, str], int] = {}
        self._referenced: dict[tuple[str, str, int], frozenset[str] | None] = {}

    def tokenizer(self, model: str) -> Tokenizer:
        if model not in self._tokenizers:
            self._tokenizers[model] = tokenizer_for(model, self.config.model_aliases)
        return self._tokenizers[model]

    @staticmethod
    def _key(revision: Revision, entry: FileEntry, path: str, spec: PromptSpec) -> tuple[object, ...]:
        return (entry.blob or f"{revision.kind}:{path}", path, id(spec))

    def _lookup(self, revision: Revision, key: tuple[object, ...]) -> _Count | None:
        return self._counts.get(key) or self._counts.get((*key, revision))

    def _cache_keys(self, entry: FileEntry, path: str, spec: PromptSpec) -> tuple[CacheKey, CacheKey] | None:
        """Return the cache keys of input tokens and message count, or None for a file outside git."""
        if entry.blob is None:
            return None
        tokenizer = self.tokenizer(spec.model)
        settings = settings_hash(path, spec, tokenizer)
        return (
            CacheKey(entry.blob, tokenizer.encoding_name, settings),
            CacheKey(entry.blob, self.MESSAGE_COUNT, settings),
        )

    def prepare(self, requests: Sequence[_SideRequest]) -> None:
        """Count every requested side ahead of `side`, in request order so the first render error is the same."""
        pending: dict[tuple[object, ...], _SideRequest] = {}
        for request in requests:
            key = self._key(request.revision, request.entry, request.path, request.spec)
            if key not in pending and self._lookup(request.revision, key) is None:
                pending[key] = request
        cache_keys = {key: self._cache_keys(r.entry, r.path, r.spec) for key, r in pending.items()}
        cached = self.cache.get_many(
            cache_key for pair in cache_keys.values() if pair is not None for cache_key in pair
        )

        misses: list[tuple[tuple[object, ...], _SideRequest]] = []
        for key, request in pending.items():
            pair = cache_keys[key]
            if pair is not None and pair[0] in cached and pair[1] in cached:
                self._counts[key] = _Count(cached[pair[0]], cached[pair[1]], None)
            else:
                misses.append((key, request))
        self.blobs.prefetch(
            request.entry.blob
            for key, request in pending.items()
            if request.entry.blob is not None and (request.needs_source or key not in self._counts)
        )

        rendered: list[tuple[tuple[object, ...], _SideRequest, RenderedPrompt, bool]] = []
        for key, request in misses:
            included: list[str] = []
            prompt = self._render(request.revision, request.files, request.path, request.spec, included)
            rendered.append((key, request, prompt, bool(included)))
        totals = count_batches([(self.tokenizer(r.spec.model), prompt.messages) for _, r, prompt, _ in rendered])

        fresh: dict[CacheKey, int] = {}
        for (key, request, prompt, uses_includes), total in zip(rendered, totals, strict=True):
            count = _Count(total, len(prompt.messages), prompt.source_text)
            if uses_includes:
                # The count depends on other files of this revision, so it is neither shared nor cached.
                self._counts[(*key, request.revision)] = count
                continue
            self._counts[key] = count
            pair = cache_keys[key]
            if pair is not None:
                fresh[pair[0]] = total
                fresh[pair[1]] = len(prompt.messages)
        self.cache.put_many(fresh)

    def _render(
        self,
        revision: Revision,
        files: Mapping[str, FileEntry],
        path: str,
        spec: PromptSpec,
        included: list[str],
        variables: Mapping[str, object] | None = None,
    ) -> RenderedPrompt:
        """Render one prompt; `included` receives the name of each file the template includes."""
        return render_prompt(
            self.blobs.read(revision, files[path]),
            path,
            format=spec.format,
            key=spec.key,
            role=spec.role,
            variables=spec.variables if variables is None else variables,
            include_reader=self._include_reader(revision, files, path, included),
            config_name=self.config.source,
        )

    def _include_reader(
        self, revision: Revision, files: Mapping[str, FileEntry], path: str, included: list[str]
    ) -> Callable[[str], str | None]:
        def read(name: str) -> str | None:
            included.append(name)
            resolved = resolve_include(path, name, files.__contains__)
            if resolved is None:
                return None
            data = self.blobs.read(revision, files[resolved])
            return data.decode("utf-8-sig", "replace").replace("\r\n", "\n")

        return read

    def _count(
        self, revision: Revision, files: Mapping[str, FileEntry], path: str, spec: PromptSpec, needs_source: bool
    ) -> _Count:
        """Return the prepared count of a side, or render and count it now."""
        entry = files[path]
        key = self._key(revision, entry, path, spec)
        count = self._lookup(revision, key)
        if count is None:
            self.prepare([_SideRequest(revision, files, path, spec, needs_source)])
            count = self._lookup(revision, key)
            assert count is not None
        if needs_source and count.source_text is None:
            # A cache hit skipped rendering, but the diff of a changed prompt needs its text.
            count = _Count(count.input_tokens, count.messages, decode_prompt(self.blobs.read(revision, entry), path))
        return count

    def side(
        self, revision: Revision, files: Mapping[str, FileEntry], path: str, spec: PromptSpec, needs_source: bool = True
    ) -> PromptSide:
        """Return the figures of one prompt side; `needs_source` when its text is diffed with the other side."""
        key = self._key(revision, files[path], path, spec)
        # Without fixtures, routing or a fallback model there is nothing to replay, so the
        # figures depend only on the count and an unchanged prompt is priced once for both sides.
        replay_free = not (spec.fixtures or spec.routing or spec.fallback_model)
        side_key = (*key, needs_source)
        if replay_free and side_key in self._sides:
            return self._sides[side_key]

        count = self._count(revision, files, path, spec, needs_source)
        tokenizer = self.tokenizer(spec.model)
        input_tokens = count.input_tokens
        output_tokens = spec.expected_output_tokens
        cost = self.prices.request_cost(spec.model, input_tokens, output_tokens)
        monthly = cost * spec.requests_per_month

        replayed = replay_prompt(
            self.repository,
            revision,
            files,
            spec,
            self.config,
            tokenizer,
            self.prices,
            lambda variables: self._count_with_variables(revision, files, path, spec, variables),
            self.config.strict,
        )
        success = None
        if replayed is not None:
            success = replayed[0]
            if success.output_tokens_mean is not None:
                output_tokens = int(success.output_tokens_mean.to_integral_value())
            cost = success.cost_per_attempt
            monthly = success.monthly_cost
        result = PromptSide(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_per_request=cost,
            monthly_cost=monthly,
            requests_per_month=spec.requests_per_month,
            messages=count.messages,
            source_text=count.source_text or "",
            success=success,
        )
        # A count stored per revision read included files, so the side differs between revisions.
        if replay_free and key in self._counts:
            self._sides[side_key] = result
        return result

    def _count_with_variables(
        self,
        revision: Revision,
        files: Mapping[str, FileEntry],
        path: str,
        spec: PromptSpec,
        variables: Mapping[str, object],
    ) -> int:
        """Count the input tokens of the template rendered with one fixture's variables.

        Counts are shared between fixtures that agree on the variables the
        template reads, so a plain-text prompt renders once for any number of
        fixtures.
        """
        template_key = (revision.label, path, id(spec))
        if template_key not in self._referenced:
            base = self._render(revision, files, path, spec, [], spec.variables)
            self._referenced[template_key] = referenced_variables(base.source_text, base.format)
        referenced = self._referenced[template_key]
        relevant = variables if referenced is None else {k: v for k, v in variables.items() if k in referenced}
        key = (*template_key, json.dumps(relevant, sort_keys=True, default=str))
        if key not in self._variable_counts:
            rendered = self._render(revision, files, path, spec, [], {**spec.variables, **variables})
            self._variable_counts[key] = self.tokenizer(spec.model).count_messages(rendered.messages)
        return self._variable_counts[key]


@dataclass(frozen=True)
class _SideRequest:
    """One prompt side for `_Counter.prepare`; `needs_source` when a diff of its text may be shown."""

    revision: Revision
    files: Mapping[str, FileEntry]
    path: str
    spec: PromptSpec
    needs_source: bool

    @property
    def entry(self) -> FileEntry:
        return self.files[self.path]


@dataclass(frozen=True)
class _Count:
    """Input tokens and chat messages of one rendered prompt, with its text when it was read."""

    input_tokens: int
    messages: int
    source_text: str | None


def run_check(root: Path, config: Config, options: CheckOptions, repository: Repository | None = None) -> CheckResult:
    """Compare every prompt between the base and head revisions and evaluate the budgets."""
    own_repository = repository is None
    repository = repository or Repository(root)
    try:
        return _run_check(repository, config, options)
    finally:
        if own_repository:
            repository.close()


def _run_check(repository: Repository, config: Config, options: CheckOptions) -> CheckResult:
    base, head = resolve_revisions(repository, options)
    logger.info("comparing %s (%s) with %s", base.label, base.commit, head.label)
    base_files = repository.list_files(base)
    head_files = repository.list_files(head)
    base_found = discover(base_files, config)
    head_found = discover(head_files, config)
    warnings = report_unmatched(base_found, head_found, config, explicit=bool(config.prompts))
    if base.commit is not None and base.commit == head.commit:
        warnings.append(
            f"base and head are the same commit ({base.commit[:12]}), so nothing can change; "
            "on the default branch use --base HEAD~1, or --worktree for uncommitted changes"
        )

    changes: dict[str, Change] = {}
    renamed_from: set[str] = set()
    for git_change in repository.changes(base, head):
        changes[git_change.path] = git_change
        if git_change.kind == "renamed" and git_change.previous_path:
            renamed_from.add(git_change.previous_path)

    prices = PriceBook(config.pricing, config.price_date, config.model_aliases)
    cache = TokenCache.open_default()
    try:
        counter = _Counter(repository, config, prices, cache)
        compared: list[tuple[str, PromptSpec, ChangeKind, str | None, str | None, bool]] = []
        for path, spec in sorted(head_found.prompts.items()):
            change = changes.get(path)
            previous = change.previous_path if change and change.kind == "renamed" else None
            base_path = previous or (path if path in base_files else None)
            kind: ChangeKind
            if change is not None and change.kind == "renamed":
                kind = "renamed"
            elif base_path is None:
                kind = "added"
            elif change is not None and change.kind in ("modified", "added"):
                kind = "modified"
            else:
                kind = "unchanged"
            # The diff needs both texts unless both sides are the same blob at the same path.
            same_file = (
                base_path == path
                and head_files[path].blob is not None
                and base_files[path].blob == head_files[path].blob
            )
            compared.append((path, spec, kind, previous, base_path, base_path is not None and not same_file))
        removed = [
            (path, spec)
            for path, spec in sorted(base_found.prompts.items())
            if not (path in head_found.prompts or path in renamed_from or path in head_files)
        ]
        scope = Scope()
        if options.changed_only:
            compared, scope = _leave_out_unchanged(
                repository, config, counter, base, base_files, list(changes), compared
            )

        requests: list[_SideRequest] = []
        for path, spec, _, _, base_path, needs_source in compared:
            requests.append(_SideRequest(head, head_files, path, spec, needs_source))
            if base_path is not None:
                requests.append(_SideRequest(base, base_files, base_path, spec, needs_source))
        requests.extend(_SideRequest(base, base_files, path, spec, False) for path, spec in removed)
        counter.prepare(requests)

        results: list[PromptResult] = []
        for path, spec, kind, previous, base_path, needs_source in compared:
            head_side = counter.side(head, head_files, path, spec, needs_source)
            base_side = None
            hunks: tuple[Hunk, ...] = ()
            if base_path is not None:
                base_side = counter.side(base, base_files, base_path, spec, needs_source)
                if base_side.source_text != head_side.source_text:
                    hunks = tuple(
                        diff_hunks(
                            base_side.source_text, head_side.source_text, counter.tokenizer(spec.model).count_texts
                        )
                    )
                if kind == "unchanged" and base_side != head_side:
                    # The file is the same, but an included template or the recorded responses changed.
                    kind = "modified"
            tokenizer = counter.tokenizer(spec.model)
            results.append(
                PromptResult(
                    path,
                    previous,
                    kind,
                    spec.model,
                    tokenizer.encoding_name,
                    tokenizer.method,
                    base_side,
                    head_side,
                    hunks,
                )
            )

        for path, spec in removed:
            tokenizer = counter.tokenizer(spec.model)
            results.append(
                PromptResult(
                    path,
                    None,
                    "removed",
                    spec.model,
                    tokenizer.encoding_name,
                    tokenizer.method,
                    counter.side(base, base_files, path, spec, False),
                    None,
                )
            )
    finally:
        cache.close()

    totals = Totals(
        base_input_tokens=sum(r.base.input_tokens for r in results if r.base),
        head_input_tokens=sum(r.head.input_tokens for r in results if r.head),
        base_monthly_cost=sum((r.base.monthly_cost for r in results if r.base), Decimal(0)),
        head_monthly_cost=sum((r.head.monthly_cost for r in results if r.head), Decimal(0)),
    )
    specs = {**base_found.prompts, **head_found.prompts}
    budget_results = evaluate_budgets(repository, head, results, totals, config, specs, head_found.prompts)
    ordered = sorted(results, key=lambda r: (r.change == "unchanged", r.path))
    return CheckResult(
        base, head, prices.source(), tuple(ordered), totals, tuple(budget_results), tuple(warnings), scope
    )


_Compared = tuple[str, PromptSpec, ChangeKind, str | None, str | None, bool]


def _leave_out_unchanged(
    repository: Repository,
    config: Config,
    counter: _Counter,
    base: Revision,
    base_files: Mapping[str, FileEntry],
    changed_paths: list[str],
    compared: list[_Compared],
) -> tuple[list[_Compared], Scope]:
    """Drop the prompts that `promptguard.scope.may_leave_out` allows, unless every prompt must be counted."""
    blobs = counter.blobs
    config_at_base = None
    config_in_use = None
    if config.source is not None:
        if config.source in base_files:
            # One `git cat-file` run costs less than importing GitPython for `Repository.read`.
            blobs.prefetch([base_files[config.source].blob or ""])
            config_at_base = blobs.read(base, base_files[config.source])
        try:
            config_in_use = (repository.root / config.source).read_bytes()
        except OSError:
            config_in_use = None
    reason = every_prompt_reason(config, changed_paths, config_at_base, config_in_use)
    if reason is not None:
        logger.info("--changed-only: counting every prompt because %s", reason)
        return compared, Scope(changed_only=True, every_prompt_reason=reason)

    # git diff lists no change for an unchanged path, so its content at head is
    # its base blob, also in the working tree where head files have no blob id.
    candidates = [
        (path, spec) for path, spec, kind, _, base_path, _ in compared if kind == "unchanged" and base_path == path
    ]
    templates = [path for path, spec in candidates if renders_templates(path, spec)]
    scan_keys = {path: CacheKey(base_files[path].blob or "", SCAN_CACHE_NAME, SCAN_CACHE_VERSION) for path in templates}
    scanned = counter.cache.get_many(scan_keys.values())
    unknown = [path for path in templates if scan_keys[path] not in scanned]
    blobs.prefetch(base_files[path].blob or "" for path in unknown)
    fresh = {scan_keys[path]: int(reads_templates(blobs.read(base, base_files[path]))) for path in unknown}
    counter.cache.put_many(fresh)
    scanned.update(fresh)
    left_out = {
        path
        for path, spec in candidates
        if may_leave_out(path, spec, bool(scanned[scan_keys[path]]) if path in scan_keys else None)
    }
    remaining = [item for item in compared if item[0] not in left_out]
    return remaining, Scope(changed_only=True, left_out=len(left_out))
