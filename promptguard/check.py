"""The check: count and price every prompt at base and head, diff them, and evaluate budgets.

`run_check` returns a `CheckResult`; it knows nothing of click, exit codes or
output formats.
"""

from __future__ import annotations

import json
import logging
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from promptguard import budgets as budget_rules
from promptguard.budgets import BudgetResult, Level
from promptguard.config import TOTAL_BUDGETS, Config, Limit, PromptSpec
from promptguard.discovery import discover, report_unmatched
from promptguard.formats import RenderedPrompt, render_prompt
from promptguard.hunks import Hunk, diff_hunks
from promptguard.paths import normalize_repo_path
from promptguard.pricing import PriceBook, PricingSource
from promptguard.revisions import INDEX, WORKTREE, Change, ChangeKind, FileEntry, Repository, Revision
from promptguard.success_cost import SuccessCost, replay_prompt

if TYPE_CHECKING:
    from promptguard.history import DriftFigures
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
    """One prompt compared between base and head."""

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
    """Sums over every prompt, unchanged ones included."""

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

    @property
    def status(self) -> Level:
        return budget_rules.overall_level(self.budgets)

    @property
    def violations(self) -> tuple[BudgetResult, ...]:
        return tuple(result for result in self.budgets if result.level != "pass")


@dataclass(frozen=True)
class CheckOptions:
    """What to compare: `base` None means the merge base with the default branch."""

    base: str | None = None
    head: str | None = None
    mode: HeadMode = "commit"


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
    """Renders, counts and prices prompts, once per distinct (content, settings)."""

    def __init__(self, repository: Repository, config: Config, prices: PriceBook):
        self.repository = repository
        self.config = config
        self.prices = prices
        self._rendered: dict[tuple[str, str, int], RenderedPrompt] = {}
        self._tokenizers: dict[str, Tokenizer] = {}
        self._variable_counts: dict[tuple[str, str, int, str], int] = {}

    def tokenizer(self, model: str) -> Tokenizer:
        if model not in self._tokenizers:
            self._tokenizers[model] = tokenizer_for(model, self.config.model_aliases)
        return self._tokenizers[model]

    def render(self, revision: Revision, files: Mapping[str, FileEntry], path: str, spec: PromptSpec) -> RenderedPrompt:
        entry = files[path]
        key = (entry.blob or f"{revision.kind}:{path}", path, id(spec))
        if key not in self._rendered:
            data = self.repository.read(revision, entry)
            self._rendered[key] = render_prompt(
                data,
                path,
                format=spec.format,
                key=spec.key,
                role=spec.role,
                variables=spec.variables,
                include_reader=self._include_reader(revision, files, path),
            )
        return self._rendered[key]

    def _include_reader(
        self, revision: Revision, files: Mapping[str, FileEntry], path: str
    ) -> Callable[[str], str | None]:
        def read(name: str) -> str | None:
            # Includes resolve next to the including file first, then from the repository root.
            for candidate in (posixpath.join(posixpath.dirname(path), name), name):
                normalized = normalize_repo_path(candidate, what="included template")
                if normalized in files:
                    data = self.repository.read(revision, files[normalized])
                    return data.decode("utf-8-sig", "replace").replace("\r\n", "\n")
            return None

        return read

    def side(
        self, revision: Revision, files: Mapping[str, FileEntry], path: str, spec: PromptSpec
    ) -> PromptSide:
        rendered = self.render(revision, files, path, spec)
        tokenizer = self.tokenizer(spec.model)
        input_tokens = tokenizer.count_messages(rendered.messages)
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
        return PromptSide(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_per_request=cost,
            monthly_cost=monthly,
            requests_per_month=spec.requests_per_month,
            messages=len(rendered.messages),
            source_text=rendered.source_text,
            success=success,
        )

    def _count_with_variables(
        self,
        revision: Revision,
        files: Mapping[str, FileEntry],
        path: str,
        spec: PromptSpec,
        variables: Mapping[str, object],
    ) -> int:
        """Count the input tokens of the template rendered with one fixture's variables."""
        key = (revision.label, path, id(spec), json.dumps(variables, sort_keys=True, default=str))
        if key not in self._variable_counts:
            data = self.repository.read(revision, files[path])
            rendered = render_prompt(
                data,
                path,
                format=spec.format,
                key=spec.key,
                role=spec.role,
                variables={**spec.variables, **variables},
                include_reader=self._include_reader(revision, files, path),
            )
            self._variable_counts[key] = self.tokenizer(spec.model).count_messages(rendered.messages)
        return self._variable_counts[key]


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
    counter = _Counter(repository, config, prices)
    results: list[PromptResult] = []

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

        head_side = counter.side(head, head_files, path, spec)
        base_side = None
        hunks: tuple[Hunk, ...] = ()
        if base_path is not None:
            base_side = counter.side(base, base_files, base_path, spec)
            if base_side.source_text != head_side.source_text:
                hunks = tuple(
                    diff_hunks(base_side.source_text, head_side.source_text, counter.tokenizer(spec.model).count_texts)
                )
        tokenizer = counter.tokenizer(spec.model)
        results.append(
            PromptResult(
                path, previous, kind, spec.model, tokenizer.encoding_name, tokenizer.method, base_side, head_side, hunks
            )
        )

    for path, spec in sorted(base_found.prompts.items()):
        if path in head_found.prompts or path in renamed_from or path in head_files:
            continue
        tokenizer = counter.tokenizer(spec.model)
        results.append(
            PromptResult(
                path,
                None,
                "removed",
                spec.model,
                tokenizer.encoding_name,
                tokenizer.method,
                counter.side(base, base_files, path, spec),
                None,
            )
        )

    totals = Totals(
        base_input_tokens=sum(r.base.input_tokens for r in results if r.base),
        head_input_tokens=sum(r.head.input_tokens for r in results if r.head),
        base_monthly_cost=sum((r.base.monthly_cost for r in results if r.base), Decimal(0)),
        head_monthly_cost=sum((r.head.monthly_cost for r in results if r.head), Decimal(0)),
    )
    specs = {**base_found.prompts, **head_found.prompts}
    drifts = _drift_windows(repository, config, head, results, head_found.prompts)
    budget_results = evaluate_budgets(results, totals, config, specs, drifts)
    ordered = sorted(results, key=lambda r: (r.change == "unchanged", r.path))
    return CheckResult(base, head, prices.source(), tuple(ordered), totals, tuple(budget_results), tuple(warnings))


DRIFT_BUDGETS = frozenset({"max_input_tokens_growth_pct", "max_monthly_cost_growth_pct"})
DEFAULT_WINDOW_DAYS = 90


def _drift_windows(
    repository: Repository,
    config: Config,
    head: Revision,
    results: list[PromptResult],
    specs: Mapping[str, PromptSpec],
) -> dict[int, DriftFigures]:
    """Compute drift figures once per window length that a drift budget names."""
    limits = [limit for name, limit in config.budgets.items() if name in DRIFT_BUDGETS]
    limits += [limit for spec in specs.values() for name, limit in spec.budgets.items() if name in DRIFT_BUDGETS]
    if not limits:
        return {}
    from promptguard.history import drift_figures
    from promptguard.tokencache import TokenCache

    cache = TokenCache.open_default()
    try:
        return {
            days: drift_figures(repository, config, head, results, specs, days, cache)
            for days in {limit.window_days or DEFAULT_WINDOW_DAYS for limit in limits}
        }
    finally:
        cache.close()


def evaluate_budgets(
    results: list[PromptResult],
    totals: Totals,
    config: Config,
    specs: Mapping[str, PromptSpec],
    drifts: Mapping[int, DriftFigures] | None = None,
) -> list[BudgetResult]:
    """Evaluate per-prompt budgets (a prompt's own over the global ones) and the budgets on totals.

    Drift budgets compare head with the prompt at the start of their window
    (`window_days`, default 90).
    """
    drifts = drifts or {}
    outcomes: list[BudgetResult] = []
    global_per_prompt = {name: limit for name, limit in config.budgets.items() if name not in TOTAL_BUDGETS}
    for result in results:
        if result.head is None:
            continue
        spec = specs.get(result.path)
        limits: dict[str, Limit] = {**global_per_prompt, **(spec.budgets if spec else {})}
        for name, limit in sorted(limits.items()):
            actual = prompt_figure(name, limit, result)
            window = drifts.get(limit.window_days or DEFAULT_WINDOW_DAYS)
            if name in DRIFT_BUDGETS and window is not None and result.path in window.prompts:
                from promptguard.history import drift_figure

                actual = drift_figure(name, window.prompts[result.path])
            if actual is not None:
                outcomes.append(budget_rules.evaluate(name, limit, actual, result.path))

    for name, limit in sorted(config.budgets.items()):
        if name not in TOTAL_BUDGETS:
            continue
        total_actual = total_figure(name, totals)
        window = drifts.get(limit.window_days or DEFAULT_WINDOW_DAYS)
        if name == "max_monthly_cost_growth_pct" and window is not None:
            total_actual = window.total_monthly_cost_growth_pct
        if total_actual is not None:
            outcomes.append(budget_rules.evaluate(name, limit, total_actual, None))
    return outcomes


def prompt_figure(budget: str, limit: Limit, result: PromptResult) -> Decimal | None:
    """Return the figure a budget limits for one prompt, or None when it does not apply."""
    head = result.head
    base = result.base
    assert head is not None
    if budget == "max_input_tokens":
        return Decimal(head.input_tokens)
    if budget == "max_input_tokens_increase_pct":
        return budget_rules.increase_pct(base.input_tokens, head.input_tokens) if base else None
    if budget == "max_cost_per_request":
        return head.cost_per_request
    if budget == "max_monthly_cost":
        return head.monthly_cost
    if budget == "max_monthly_cost_increase":
        return result.monthly_cost_delta
    return _success_figure(budget, limit, result)


def _success_figure(budget: str, limit: Limit, result: PromptResult) -> Decimal | None:
    """Return a figure from the fixture replay, or None when the prompt has no fixtures."""
    head = result.head.success if result.head else None
    if head is None:
        return None
    if budget == "max_failure_rate":
        return head.failure_rate_high if limit.use_upper_bound else head.failure_rate
    if budget == "max_cost_per_success":
        return head.cost_per_success
    if budget == "max_output_tokens_p95":
        return Decimal(head.output_tokens_p95) if head.output_tokens_p95 is not None else None
    if budget == "max_cost_per_success_increase_pct":
        base = result.base.success if result.base else None
        if base is None or base.cost_per_success is None or head.cost_per_success is None:
            return None
        return budget_rules.increase_pct(base.cost_per_success, head.cost_per_success)
    return None


def total_figure(budget: str, totals: Totals) -> Decimal | None:
    """Return the figure a budget limits over all prompts, or None when it does not apply."""
    if budget == "max_monthly_cost":
        return totals.head_monthly_cost
    if budget == "max_monthly_cost_increase":
        return totals.monthly_cost_delta
    return None
