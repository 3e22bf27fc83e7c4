"""`promptguard check` against real git repositories built in tmp_path."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from promptguard.report import report_schema
from tests.conftest import GitRepo

CONFIG = """
model = "gpt-4o"
requests_per_month = 1000
expected_output_tokens = 100
price_date = "2026-12-01"

[[prompts]]
path = "prompts/*.md"

[[prompts]]
path = "prompts/*.j2"
variables = { ticket = "My invoice is wrong" }
"""

# gpt-4o list price in genai-prices on 2026-12-01: $2.50 input, $10 output per million tokens.
GPT4O_INPUT = Decimal("2.5") / 1_000_000
GPT4O_OUTPUT = Decimal("10") / 1_000_000


def count(reference_encoding: Any, text: str, name: str = "o200k_base") -> int:
    return len(reference_encoding(name).encode_ordinary(text))


def check_json(run_cli: Any, repo: GitRepo, *args: str) -> dict[str, Any]:
    result = run_cli(["check", "--format", "json", *args], repo.root)
    assert result.exit_code in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    jsonschema.validate(document, report_schema())
    return document


def by_path(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {prompt["path"]: prompt for prompt in document["prompts"]}


def test_modified_prompt_exact_tokens_and_cost(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    before = "You are a support assistant.\nAnswer briefly.\n"
    after = before + "Always add this disclaimer: answers are not legal advice.\n"
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/support.md", before)
    base = repo.commit("base")
    repo.write("prompts/support.md", after)
    repo.commit("head")

    document = check_json(run_cli, repo, "--base", base)
    prompt = by_path(document)["prompts/support.md"]
    base_tokens = count(reference_encoding, before) + 6
    head_tokens = count(reference_encoding, after) + 6
    assert prompt["change"] == "modified"
    assert prompt["token_count_method"] == "exact"
    assert prompt["base"]["input_tokens"] == base_tokens
    assert prompt["head"]["input_tokens"] == head_tokens
    expected_cost = head_tokens * GPT4O_INPUT + 100 * GPT4O_OUTPUT
    assert Decimal(prompt["head"]["cost_per_request"]) == expected_cost
    assert Decimal(prompt["head"]["monthly_cost"]) == expected_cost * 1000
    assert document["base"]["commit"] == base
    hunk = prompt["hunks"][0]
    assert (hunk["head_start"], hunk["head_end"]) == (3, 3)
    added_line = "Always add this disclaimer: answers are not legal advice.\n"
    assert hunk["token_delta"] == count(reference_encoding, added_line)


def test_change_kinds(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    long_text = "".join(f"Rule {i}: keep answers factual and cite the article.\n" for i in range(20))
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/keep.md", "Unchanged prompt.\n")
    repo.write("prompts/old_name.md", long_text)
    repo.write("prompts/gone.md", "This prompt will be removed.\n")
    repo.write("prompts/edit.md", "Version one.\n")
    base = repo.commit("base")
    repo.git("mv", "prompts/old_name.md", "prompts/new_name.md")
    repo.write("prompts/new_name.md", long_text + "One more rule.\n")
    repo.git("rm", "--quiet", "prompts/gone.md")
    repo.write("prompts/edit.md", "Version two, longer than before.\n")
    repo.write("prompts/new.md", "A brand new prompt.\n")
    repo.commit("head")

    prompts = by_path(check_json(run_cli, repo, "--base", base))
    assert prompts["prompts/keep.md"]["change"] == "unchanged"
    assert prompts["prompts/new_name.md"]["change"] == "renamed"
    assert prompts["prompts/new_name.md"]["previous_path"] == "prompts/old_name.md"
    assert prompts["prompts/new_name.md"]["base"]["input_tokens"] == count(reference_encoding, long_text) + 6
    assert prompts["prompts/gone.md"]["change"] == "removed"
    assert prompts["prompts/gone.md"]["head"] is None
    assert prompts["prompts/edit.md"]["change"] == "modified"
    assert prompts["prompts/new.md"]["change"] == "added"
    assert prompts["prompts/new.md"]["base"] is None
    assert "prompts/old_name.md" not in prompts


def test_totals_include_unchanged(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", "Alpha prompt.\n")
    repo.write("prompts/b.md", "Beta prompt text.\n")
    base = repo.commit("base")
    repo.write("prompts/b.md", "Beta prompt text, now longer.\n")
    repo.commit("head")

    document = check_json(run_cli, repo, "--base", base)
    a = count(reference_encoding, "Alpha prompt.\n") + 6
    b_base = count(reference_encoding, "Beta prompt text.\n") + 6
    b_head = count(reference_encoding, "Beta prompt text, now longer.\n") + 6
    assert document["totals"]["base"]["input_tokens"] == a + b_base
    assert document["totals"]["head"]["input_tokens"] == a + b_head
    delta = (b_head - b_base) * GPT4O_INPUT * 1000
    assert Decimal(document["totals"]["monthly_cost_delta"]) == delta


def test_jinja_template_rendered_with_variables(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/triage.j2", "Classify this ticket:\n{{ ticket }}\n")
    repo.commit("base")

    document = check_json(run_cli, repo, "--base", "HEAD")
    rendered = "Classify this ticket:\nMy invoice is wrong\n"
    assert by_path(document)["prompts/triage.j2"]["head"]["input_tokens"] == count(reference_encoding, rendered) + 6


def test_default_base_is_merge_base(repo: GitRepo, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", "one\n")
    fork_point = repo.commit("base")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.write("prompts/a.md", "one two\n")
    repo.commit("feature change")
    repo.git("checkout", "--quiet", "main")
    repo.write("prompts/b.md", "main moved on\n")
    repo.commit("main change")
    repo.git("checkout", "--quiet", "feature")

    document = check_json(run_cli, repo)
    assert document["base"]["commit"] == fork_point
    assert "b.md" not in json.dumps(document["prompts"])


def test_staged_sees_index_not_worktree(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", "first\n")
    repo.commit("base")
    repo.write("prompts/a.md", "staged version\n")
    repo.git("add", "prompts/a.md")
    repo.write("prompts/a.md", "unstaged working tree version, much longer than the staged one\n")

    staged = by_path(check_json(run_cli, repo, "--staged"))["prompts/a.md"]
    assert staged["head"]["input_tokens"] == count(reference_encoding, "staged version\n") + 6
    assert staged["change"] == "modified"
    worktree = by_path(check_json(run_cli, repo, "--worktree"))["prompts/a.md"]
    expected = count(reference_encoding, "unstaged working tree version, much longer than the staged one\n") + 6
    assert worktree["head"]["input_tokens"] == expected


def test_worktree_untracked_prompt_is_added(repo: GitRepo, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", "first\n")
    repo.commit("base")
    repo.write("prompts/untracked.md", "not yet added\n")
    prompts = by_path(check_json(run_cli, repo, "--worktree"))
    assert prompts["prompts/untracked.md"]["change"] == "added"


BUDGET_CONFIG = (
    CONFIG
    + """
[budgets]
max_input_tokens_increase_pct = { fail = 50, warn = 10 }
max_monthly_cost_increase = { fail = 1 }
"""
)


def test_budget_fail_exit_code_and_violation(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    before = "Short prompt.\n"
    after = "Short prompt.\n" + "Add many more instructions here to grow the prompt a lot.\n" * 3
    repo.write("promptguard.toml", BUDGET_CONFIG)
    repo.write("prompts/a.md", before)
    base = repo.commit("base")
    repo.write("prompts/a.md", after)
    repo.commit("head")

    result = run_cli(["check", "--base", base, "--format", "json"], repo.root)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["status"] == "fail"
    violation = next(v for v in document["violations"] if v["budget"] == "max_input_tokens_increase_pct")
    base_tokens = count(reference_encoding, before) + 6
    head_tokens = count(reference_encoding, after) + 6
    expected_pct = Decimal(head_tokens - base_tokens) * 100 / Decimal(base_tokens)
    assert Decimal(violation["actual"]) == expected_pct.normalize()
    assert violation["level"] == "fail"
    assert violation["prompt"] == "prompts/a.md"

    text = run_cli(["check", "--base", base], repo.root)
    assert text.exit_code == 1
    assert "FAIL" in text.stdout
    assert "max_input_tokens_increase_pct" in text.stdout


def test_budget_at_limit_passes(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    text = "Exactly at the limit.\n"
    tokens = count(reference_encoding, text) + 6
    repo.write("promptguard.toml", CONFIG + f"\n[budgets]\nmax_input_tokens = {{ fail = {tokens} }}\n")
    repo.write("prompts/a.md", text)
    repo.commit("base")
    assert run_cli(["check", "--base", "HEAD"], repo.root).exit_code == 0
    repo.write("promptguard.toml", CONFIG + f"\n[budgets]\nmax_input_tokens = {{ fail = {tokens - 1} }}\n")
    assert run_cli(["check", "--base", "HEAD", "--worktree"], repo.root).exit_code == 1


def test_per_prompt_budget_overrides_global(repo: GitRepo, run_cli: Any) -> None:
    config = CONFIG.replace(
        '[[prompts]]\npath = "prompts/*.md"\n',
        '[[prompts]]\npath = "prompts/*.md"\nbudgets = { max_input_tokens = { fail = 100000 } }\n',
    )
    repo.write("promptguard.toml", config + "\n[budgets]\nmax_input_tokens = { fail = 1 }\n")
    repo.write("prompts/a.md", "A prompt with several tokens.\n")
    repo.commit("base")
    assert run_cli(["check", "--base", "HEAD"], repo.root).exit_code == 0


def test_custom_price_for_fine_tuned_model(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    config = """
model = "acme-ft-model"
requests_per_month = 7_500_000
expected_output_tokens = 0
model_aliases = { "acme-ft-model" = "gpt-4o-mini" }

[pricing."acme-ft-model"]
input_per_million = 12
output_per_million = 1.20
"""
    repo.write("promptguard.toml", config)
    repo.write("prompts/a.md", "Tokens to price.\n")
    repo.commit("base")
    document = check_json(run_cli, repo, "--base", "HEAD", "--prompts", "prompts/*.md")
    side = by_path(document)["prompts/a.md"]["head"]
    tokens = count(reference_encoding, "Tokens to price.\n") + 6
    assert side["input_tokens"] == tokens
    assert Decimal(side["cost_per_request"]) == Decimal(tokens) * 12 / 1_000_000
    assert Decimal(side["monthly_cost"]) == Decimal(tokens) * 12 / 1_000_000 * 7_500_000


def test_markdown_and_output_file(repo: GitRepo, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", "hello\n")
    repo.commit("base")
    out = repo.root / "report.md"
    result = run_cli(["check", "--base", "HEAD", "--format", "markdown", "--output", str(out)], repo.root)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "prompts/a.md" in out.read_text()


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_chat_messages_file(repo: GitRepo, run_cli: Any, reference_encoding: Any, suffix: str) -> None:
    if suffix == ".json":
        content = json.dumps(
            {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]}
        )
    else:
        content = "- role: system\n  content: Be kind.\n- role: user\n  content: Hi\n"
    repo.write("promptguard.toml", CONFIG + '\n[[prompts]]\npath = "chat/*"\n')
    repo.write(f"chat/a{suffix}", content)
    repo.commit("base")
    side = by_path(check_json(run_cli, repo, "--base", "HEAD"))[f"chat/a{suffix}"]["head"]
    expected = 3 + count(reference_encoding, "Be kind.") + 3 + count(reference_encoding, "Hi") + 3
    assert side["input_tokens"] == expected
    assert side["messages"] == 2


def test_prompty_and_embedded(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    config = (
        CONFIG
        + """
[[prompts]]
path = "agents/*.prompty"
variables = { question = "Where is my order?" }

[[prompts]]
path = "agents/config.yaml"
key = "agent.templates.system_template"
"""
    )
    repo.write("promptguard.toml", config)
    repo.write("agents/qa.prompty", "---\nname: qa\n---\nsystem:\nAnswer questions.\n\nuser:\n{{ question }}\n")
    repo.write("agents/config.yaml", "agent:\n  templates:\n    system_template: |\n      You are an agent.\n")
    repo.commit("base")
    prompts = by_path(check_json(run_cli, repo, "--base", "HEAD"))
    prompty = (
        3 + count(reference_encoding, "Answer questions.") + 3 + count(reference_encoding, "Where is my order?") + 3
    )
    assert prompts["agents/qa.prompty"]["head"]["input_tokens"] == prompty
    assert prompts["agents/config.yaml"]["head"]["input_tokens"] == count(reference_encoding, "You are an agent.\n") + 6


def test_estimated_model_marked(repo: GitRepo, run_cli: Any) -> None:
    repo.write("promptguard.toml", CONFIG.replace('model = "gpt-4o"', 'model = "claude-sonnet-4-5"'))
    repo.write("prompts/a.md", "hello there\n")
    repo.commit("base")
    document = check_json(run_cli, repo, "--base", "HEAD")
    assert by_path(document)["prompts/a.md"]["token_count_method"] == "estimated"
    text = run_cli(["check", "--base", "HEAD"], repo.root)
    assert "estimated" in text.stdout


def test_json_report_has_trend(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    versions = ["One rule.\n", "One rule.\nTwo rules.\n", "One rule.\nTwo rules.\nThree rules, now longer.\n"]
    repo.write("promptguard.toml", CONFIG)
    for text in versions:
        repo.write("prompts/a.md", text)
        repo.commit("grow")

    document = check_json(run_cli, repo, "--base", "HEAD~1")
    trend = by_path(document)["prompts/a.md"]["trend"]
    assert [point["input_tokens"] for point in trend] == [count(reference_encoding, text) + 6 for text in versions]
    assert trend[-1]["commit"] == document["head"]["commit"]

    without = check_json(run_cli, repo, "--base", "HEAD~1", "--no-trend")
    assert "trend" not in by_path(without)["prompts/a.md"]
