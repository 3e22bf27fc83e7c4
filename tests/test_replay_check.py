"""Fixture replay inside `check`: failure rates and cost per successful completion per revision."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from tests.conftest import GitRepo

CONFIG = """
model = "gpt-4o"
requests_per_month = 9_000_000
price_date = "2026-12-01"

[[prompts]]
path = "prompts/triage.md"
fixtures = "fixtures/triage.jsonl"
output_format = "json"
output_schema = "schemas/out.json"
max_retries = 1

[budgets]
max_failure_rate = { fail = 0.05 }
"""

SCHEMA_BASE = {"type": "object", "required": ["category"]}
SCHEMA_HEAD = {"type": "object", "required": ["category", "priority"]}


def fixture_lines(total: int, without_priority: int) -> str:
    lines = []
    for index in range(total):
        output = {"category": "billing"} if index < without_priority else {"category": "billing", "priority": "low"}
        record = {
            "id": f"r{index}",
            "output": json.dumps(output),
            "usage": {"input_tokens": 1000, "output_tokens": 100},
            "finish_reason": "stop",
            "status": 200,
        }
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def test_schema_change_raises_failure_rate(repo: GitRepo, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/triage.md", "Classify the ticket as JSON.\n")
    repo.write("fixtures/triage.jsonl", fixture_lines(100, 9))
    repo.write("schemas/out.json", json.dumps(SCHEMA_BASE))
    base = repo.commit("base")
    repo.write("schemas/out.json", json.dumps(SCHEMA_HEAD))
    repo.commit("head: require priority")

    result = run_cli(["check", "--base", base, "--format", "json"], repo.root)
    assert result.exit_code == 1, result.stderr
    prompt = json.loads(result.stdout)["prompts"][0]
    assert Decimal(prompt["base"]["failure_rate"]) == 0
    assert Decimal(prompt["head"]["failure_rate"]) == Decimal("0.09")
    assert prompt["head"]["fixtures_read"] == 100
    assert prompt["head"]["failure_reasons"][0]["count"] == 9
    assert "priority" in prompt["head"]["failure_reasons"][0]["reason"]

    # One retry at p = 0.09: 1 + 0.09 attempts; 9 million requests add 810,000 calls.
    assert Decimal(prompt["head"]["additional_calls_per_month"]) == 810_000
    # gpt-4o at $2.50 / $10 per million: 1,000 input + 100 output tokens = $0.0035 an attempt.
    attempt = Decimal("0.0035")
    assert Decimal(prompt["head"]["cost_per_request"]) == attempt
    spend = attempt * Decimal("1.09")
    success = 1 - Decimal("0.09") ** 2
    assert Decimal(prompt["head"]["spend_per_request"]) == spend
    assert abs(Decimal(prompt["head"]["cost_per_success"]) - spend / success) < Decimal("1e-12")
    assert Decimal(prompt["head"]["monthly_cost"]) == spend * 9_000_000

    violation = json.loads(result.stdout)["violations"][0]
    assert violation["budget"] == "max_failure_rate"
    assert violation["level"] == "fail"


def test_malformed_fixture_line_skipped_then_strict(repo: GitRepo, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG.replace("max_failure_rate = { fail = 0.05 }", ""))
    repo.write("prompts/triage.md", "Classify.\n")
    repo.write("fixtures/triage.jsonl", fixture_lines(3, 0) + "{not json\n")
    repo.write("schemas/out.json", json.dumps(SCHEMA_HEAD))
    repo.commit("base")

    result = run_cli(["check", "--base", "HEAD", "--format", "json"], repo.root)
    assert result.exit_code == 0, result.stderr
    head = json.loads(result.stdout)["prompts"][0]["head"]
    assert head["fixtures_read"] == 3
    assert head["fixtures_skipped"] == 1
    assert "fixtures/triage.jsonl:4" in result.stderr

    strict = run_cli(["check", "--base", "HEAD", "--strict"], repo.root)
    assert strict.exit_code == 2
    assert "fixtures/triage.jsonl:4" in strict.stderr
    assert "Traceback" not in strict.stderr
