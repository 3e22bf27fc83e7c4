"""Hand-built version 1 report documents for the Markdown, comment and annotation tests.

The reports are written by hand, not produced by `promptguard check`, so these
tests do not depend on tokenizers or prices. `validate_report` checks each one
against the published schema.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import jsonschema


def load_report_schema() -> dict[str, Any]:
    text = resources.files("promptguard").joinpath("schemas/report.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_report(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(load_report_schema()).validate(document)


def side(
    input_tokens: int,
    cost_per_request: str,
    monthly_cost: str,
    *,
    requests_per_month: int = 100_000,
    output_tokens: int = 250,
    cost_per_success: str | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost_per_request": cost_per_request,
        "monthly_cost": monthly_cost,
        "requests_per_month": requests_per_month,
    }
    if cost_per_success is not None:
        result["cost_per_success"] = cost_per_success
    return result


def prompt(
    path: str,
    change: str,
    base: dict[str, Any] | None,
    head: dict[str, Any] | None,
    *,
    hunks: list[dict[str, int]] | None = None,
    previous_path: str | None = None,
    model: str = "gpt-4o-mini",
    method: str = "exact",
) -> dict[str, Any]:
    return {
        "path": path,
        "previous_path": previous_path,
        "change": change,
        "model": model,
        "encoding": "o200k_base",
        "token_count_method": method,
        "base": base,
        "head": head,
        "hunks": hunks or [],
    }


def hunk(base_start: int, base_end: int, head_start: int, head_end: int, token_delta: int) -> dict[str, int]:
    return {
        "base_start": base_start,
        "base_end": base_end,
        "head_start": head_start,
        "head_end": head_end,
        "token_delta": token_delta,
    }


def budget(name: str, prompt_path: str | None, level: str, limit: str, actual: str, message: str) -> dict[str, Any]:
    return {
        "budget": name,
        "prompt": prompt_path,
        "scenario": None,
        "level": level,
        "limit": limit,
        "actual": actual,
        "message": message,
    }


def report(
    status: str,
    prompts: list[dict[str, Any]],
    budgets: list[dict[str, Any]],
    *,
    totals: tuple[int, str, int, str, str],
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """Build a valid report.

    `totals` is (base input tokens, base monthly cost, head input tokens,
    head monthly cost, monthly cost delta).
    """
    base_tokens, base_cost, head_tokens, head_cost, delta = totals
    document = {
        "version": 1,
        "tool": {"name": "promptguard", "version": "0.1.0"},
        "status": status,
        "base": {"ref": "origin/main", "commit": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"},
        "head": {"ref": "HEAD", "commit": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"},
        "pricing": {"source": "genai-prices", "version": "0.2.3", "price_date": "2025-06-01"},
        "prompts": prompts,
        "totals": {
            "base": {"input_tokens": base_tokens, "monthly_cost": base_cost},
            "head": {"input_tokens": head_tokens, "monthly_cost": head_cost},
            "monthly_cost_delta": delta,
        },
        "budgets": budgets,
        "violations": [result for result in budgets if result["level"] != "pass"],
        "warnings": warnings or [],
    }
    validate_report(document)
    return document


def pass_report() -> dict[str, Any]:
    """A small wording change under every budget."""
    prompts = [
        prompt(
            "prompts/summarize.prompt",
            "modified",
            side(1204, "0.00033060", "33.06"),
            side(1286, "0.00034290", "34.29"),
            hunks=[hunk(12, 18, 12, 19, 82)],
        ),
        prompt(
            "prompts/classify.j2",
            "unchanged",
            side(410, "0.00021150", "21.15"),
            side(410, "0.00021150", "21.15"),
        ),
    ]
    budgets = [
        budget(
            "max_input_tokens",
            "prompts/summarize.prompt",
            "pass",
            "2000",
            "1286",
            "1286 of 2000 input tokens",
        )
    ]
    return report("pass", prompts, budgets, totals=(1614, "54.21", 1696, "55.44", "1.23"))


def warn_report() -> dict[str, Any]:
    """A new prompt and a rename; one budget warns."""
    prompts = [
        prompt(
            "prompts/support/reply.prompty",
            "added",
            None,
            side(2048, "0.00045720", "457.20", requests_per_month=1_000_000),
            hunks=[hunk(1, 0, 1, 60, 2048)],
        ),
        prompt(
            "prompts/extract_fields.j2",
            "renamed",
            side(800, "0.00027000", "27.00"),
            side(780, "0.00026700", "26.70"),
            previous_path="prompts/extract.j2",
            hunks=[hunk(3, 5, 3, 4, -20)],
        ),
    ]
    budgets = [
        budget(
            "max_monthly_cost_delta",
            None,
            "warn",
            "400.00",
            "456.90",
            "monthly cost grows by $456.90, over the warning threshold of $400.00",
        ),
        budget(
            "max_input_tokens",
            "prompts/support/reply.prompty",
            "pass",
            "4000",
            "2048",
            "2048 of 4000 input tokens",
        ),
    ]
    return report(
        "warn",
        prompts,
        budgets,
        totals=(800, "27.00", 2828, "483.90", "456.90"),
        warnings=["prompts/support/reply.prompty: no fixture found, output tokens are the default"],
    )


def fail_report() -> dict[str, Any]:
    """Two budgets fail; retries raise cost per success; one unchanged prompt and several hunks."""
    prompts = [
        prompt(
            "prompts/agent/system.md",
            "modified",
            side(3100, "0.00820000", "8200.00", cost_per_success="0.00910000"),
            side(5400, "0.01395000", "13950.00", cost_per_success="0.01640000"),
            hunks=[hunk(40, 41, 40, 95, 2100), hunk(5, 5, 5, 6, 230), hunk(80, 90, 134, 133, -30)],
            model="gpt-4o",
        ),
        prompt(
            "prompts/agent/tools.json",
            "modified",
            side(900, "0.00245000", "2450.00"),
            side(960, "0.00260000", "2600.00"),
            hunks=[hunk(10, 12, 10, 14, 60)],
            model="gpt-4o",
            method="estimated",
        ),
        prompt(
            "prompts/greeting.txt",
            "unchanged",
            side(64, "0.00001200", "1.20"),
            side(64, "0.00001200", "1.20"),
        ),
    ]
    budgets = [
        budget(
            "max_input_tokens",
            "prompts/agent/system.md",
            "fail",
            "4000",
            "5400",
            "5400 input tokens, limit 4000",
        ),
        budget(
            "max_cost_per_success_increase",
            "prompts/agent/system.md",
            "fail",
            "25%",
            "80.2%",
            "cost per success grows by 80.2%, limit 25%",
        ),
        budget(
            "max_input_tokens",
            "prompts/agent/tools.json",
            "warn",
            "950",
            "960",
            "960 input tokens, warning at 950",
        ),
    ]
    return report("fail", prompts, budgets, totals=(4064, "10651.20", 6424, "16551.20", "5900.00"))


def with_many_prompts(document: dict[str, Any], count: int) -> dict[str, Any]:
    """Return a copy of `document` with `count` extra modified prompts, each with one hunk."""
    result = copy.deepcopy(document)
    for index in range(count):
        result["prompts"].append(
            prompt(
                f"prompts/generated/prompt_{index:05d}.prompt",
                "modified",
                side(1000, "0.00030000", "30.00"),
                side(1001 + index % 50, "0.00030030", "30.03"),
                hunks=[hunk(1, 1, 1, 1, 1 + index % 50)],
            )
        )
    validate_report(result)
    return result
