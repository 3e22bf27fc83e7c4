"""The recent history of each changed prompt, shown as a trend in the Markdown report and comment."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from promptguard.check import CheckResult
from promptguard.config import Config
from promptguard.errors import PromptguardError
from promptguard.revisions import Repository, Revision

logger = logging.getLogger(__name__)

TREND_POINTS = 8


@dataclass(frozen=True)
class TrendPoint:
    """One committed version of a prompt."""

    commit: str
    date: str
    input_tokens: int


def prompt_trends(
    repository: Repository, config: Config, result: CheckResult, points: int = TREND_POINTS
) -> dict[str, tuple[TrendPoint, ...]]:
    """Return the last `points` committed versions of each changed prompt, oldest first.

    The walk ends at head when head is a commit, else at HEAD. A failure (for
    example a shallow clone without the history) only logs a warning: the
    trend is context, never a reason to fail the check.
    """
    from promptguard.history import HistoryOptions, run_history
    from promptguard.tokencache import TokenCache

    end = result.head.commit or "HEAD"
    paths = tuple(prompt.path for prompt in result.prompts if prompt.change != "unchanged" and prompt.head is not None)
    if not paths:
        return {}
    cache = TokenCache.open_default()
    try:
        committed = repository.list_files(Revision(end, repository.resolve_commit(end)))
        selected = tuple(path for path in paths if path in committed)
        if not selected:
            return {}
        history = run_history(repository, config, HistoryOptions(prompts=selected, max_count=points, head=end), cache)
    except PromptguardError as error:
        logger.warning("prompt trends skipped: %s", error)
        return {}
    finally:
        cache.close()
    return {
        prompt.path: tuple(TrendPoint(p.commit, p.date, p.input_tokens) for p in prompt.points[-points:])
        for prompt in history.prompts
    }
