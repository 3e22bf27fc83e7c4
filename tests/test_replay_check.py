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


ROUTING_CONFIG = """
model = "cheap"
requests_per_month = 9_000_000
price_date = "2026-12-01"
model_aliases = {{ cheap = "gpt-4o", premium = "gpt-4o", fallback = "gpt-4o" }}

[pricing.cheap]
input_per_million = 10
output_per_million = 0

[pricing.premium]
input_per_million = 15
output_per_million = 0

[pricing.fallback]
input_per_million = 45
output_per_million = 0

[[prompts]]
path = "prompts/triage.md"
fixtures = "fixtures/triage.jsonl"
{extra}

[scenarios.storm]
failure_rate = 0.09
"""


def failing_lines(total: int, failures: int) -> str:
    lines = []
    for index in range(total):
        record = {
            "id": f"r{index}",
            "output": "" if index < failures else "ok",
            "usage": {"input_tokens": 1000, "output_tokens": 0},
            "finish_reason": "stop",
            "status": 200,
        }
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def head_side(run_cli: Any, repo: GitRepo) -> dict[str, Any]:
    result = run_cli(["check", "--base", "HEAD", "--format", "json"], repo.root)
    assert result.exit_code == 0, result.stderr
    side: dict[str, Any] = json.loads(result.stdout)["prompts"][0]["head"]
    return side


def test_fallback_escalation_costs_more(repo: GitRepo, run_cli: Any) -> None:
    # A $0.010 model failing 12 % of attempts, escalating without retries to a
    # $0.045 fallback that never fails: (0.010 + 0.12 * 0.045) / 1 = $0.0154 per
    # success, above $0.015 / 0.98 = $0.01530... for a $0.015 model failing 2 %.
    repo.write(
        "promptguard.toml", ROUTING_CONFIG.format(extra='fallback_model = "fallback"\nfallback_failure_rate = 0')
    )
    repo.write("prompts/triage.md", "Classify.\n")
    repo.write("fixtures/triage.jsonl", failing_lines(100, 12))
    repo.commit("base")

    side = head_side(run_cli, repo)
    assert Decimal(side["failure_rate"]) == Decimal("0.12")
    assert Decimal(side["cost_per_success"]) == Decimal("0.0154")
    assert Decimal(side["cost_per_success"]) > Decimal("0.015") / Decimal("0.98")
    assert Decimal(side["monthly_cost"]) == Decimal("0.0154") * 9_000_000


def test_scenario_raises_additional_calls(repo: GitRepo, run_cli: Any) -> None:
    # One retry: 9 million requests at 4 % failures make 360,000 extra calls; at 9 %, 810,000.
    repo.write("promptguard.toml", ROUTING_CONFIG.format(extra="max_retries = 1"))
    repo.write("prompts/triage.md", "Classify.\n")
    repo.write("fixtures/triage.jsonl", failing_lines(100, 4))
    repo.commit("base")

    side = head_side(run_cli, repo)
    scenarios = {figures["name"]: figures for figures in side["scenarios"]}
    assert Decimal(scenarios["baseline"]["additional_calls_per_month"]) == 360_000
    assert Decimal(scenarios["storm"]["additional_calls_per_month"]) == 810_000
    assert Decimal(scenarios["storm"]["monthly_cost"]) == Decimal("0.010") * (9_000_000 + 810_000)


def test_routing_weights_split_traffic(repo: GitRepo, run_cli: Any) -> None:
    routing = (
        'routing = [{ model = "cheap", weight = 3, failure_rate = 0.0 },'
        ' { model = "premium", weight = 1, failure_rate = 0.0 }]'
    )
    repo.write("promptguard.toml", ROUTING_CONFIG.format(extra=routing))
    repo.write("prompts/triage.md", "Classify.\n")
    repo.write("fixtures/triage.jsonl", failing_lines(10, 0))
    repo.commit("base")

    side = head_side(run_cli, repo)
    # Three quarters at $0.010 and one quarter at $0.015 a request.
    expected = (Decimal("0.010") * 3 + Decimal("0.015")) / 4
    assert Decimal(side["spend_per_request"]) == expected
    assert Decimal(side["monthly_cost"]) == expected * 9_000_000
    assert [route["model"] for route in side["routes"]] == ["cheap", "premium"]


def test_budget_naming_unknown_scenario(repo: GitRepo, run_cli: Any) -> None:
    config = ROUTING_CONFIG.format(extra="") + '\n[budgets]\nmax_monthly_cost = { fail = 1, scenario = "peak" }\n'
    repo.write("promptguard.toml", config)
    repo.write("prompts/triage.md", "Classify.\n")
    repo.write("fixtures/triage.jsonl", failing_lines(10, 0))
    repo.commit("base")
    result = run_cli(["check", "--base", "HEAD"], repo.root)
    assert result.exit_code == 2
    assert "scenario 'peak'" in result.stderr
    assert "[scenarios.peak]" in result.stderr


def test_upper_bound_and_output_p95_budgets(repo: GitRepo, run_cli: Any) -> None:
    # 1 failure in 20 attempts: point estimate 5 %, Wilson upper bound about 23.6 %.
    budgets = """
[budgets]
max_failure_rate = { fail = 0.10, use_upper_bound = true }
max_output_tokens_p95 = { warn = 99 }
"""
    repo.write("promptguard.toml", ROUTING_CONFIG.format(extra="") + budgets)
    repo.write("prompts/triage.md", "Classify.\n")
    lines = []
    for index in range(20):
        record = {
            "output": "" if index == 0 else "ok",
            "usage": {"input_tokens": 10, "output_tokens": 100 if index < 2 else 50},
            "finish_reason": "stop",
            "status": 200,
        }
        lines.append(json.dumps(record))
    repo.write("fixtures/triage.jsonl", "\n".join(lines) + "\n")
    repo.commit("base")

    result = run_cli(["check", "--base", "HEAD", "--format", "json"], repo.root)
    document = json.loads(result.stdout)
    budgets_by_name = {b["budget"]: b for b in document["budgets"]}
    z = Decimal("1.959963984540054")
    n, p = Decimal(20), Decimal("0.05")
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    margin = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt()
    upper = center + margin
    assert abs(Decimal(budgets_by_name["max_failure_rate"]["actual"]) - upper) < Decimal("1e-9")
    assert budgets_by_name["max_failure_rate"]["level"] == "fail"
    # Two of twenty outputs have 100 tokens, so the 95th percentile is 100.
    assert Decimal(budgets_by_name["max_output_tokens_p95"]["actual"]) == 100
    assert budgets_by_name["max_output_tokens_p95"]["level"] == "warn"
    assert result.exit_code == 1


def test_input_tokens_rendered_per_fixture(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    config = CONFIG.replace(
        'path = "prompts/triage.md"', 'path = "prompts/triage.j2"\nvariables = { ticket = "x" }'
    ).replace('output_schema = "schemas/out.json"\n', "")
    repo.write("promptguard.toml", config.replace("max_failure_rate = { fail = 0.05 }", ""))
    repo.write("prompts/triage.j2", "Ticket: {{ ticket }}\n")
    tickets = ["Refund please.", "The export to PDF fails on every dashboard since Tuesday.", "Refund please."]
    lines = [
        json.dumps({"variables": {"ticket": ticket, "noise": index}, "output": "{}", "status": 200})
        for index, ticket in enumerate(tickets)
    ]
    repo.write("fixtures/triage.jsonl", "\n".join(lines) + "\n")
    repo.commit("base")

    result = run_cli(["check", "--base", "HEAD", "--format", "json"], repo.root)
    assert result.exit_code == 0, result.stderr
    head = json.loads(result.stdout)["prompts"][0]["head"]
    encoding = reference_encoding("o200k_base")
    counts = [len(encoding.encode_ordinary(f"Ticket: {ticket}\n")) + 6 for ticket in tickets]
    assert (
        Decimal(head["input_tokens_distribution"]["mean"])
        == (Decimal(sum(counts)) / 3).quantize(Decimal("0.000001")).normalize()
    )
    assert head["input_tokens_distribution"]["p95"] == max(counts)
