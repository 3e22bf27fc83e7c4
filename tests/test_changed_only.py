"""`promptguard check --changed-only`: which unchanged prompts are left out, and when every prompt counts."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema

from promptguard.config import load_config
from promptguard.report import report_schema
from promptguard.scope import every_prompt_reason, may_leave_out, reads_templates
from tests.conftest import GitRepo

CONFIG = """
model = "gpt-4o"
requests_per_month = 1000
expected_output_tokens = 100
price_date = "2026-12-01"
variables = { ticket = "My invoice is wrong" }
include = ["prompts/*.md", "prompts/*.j2"]
"""

# One system message of N tokens counts as N + 3 for the message and 3 for the reply priming.
CHAT_OVERHEAD = 6

CHANGED_BEFORE = "Summarize the ticket in one sentence.\n"
CHANGED_AFTER = "Summarize the ticket in one sentence.\nName the product and the customer's tier.\n"
PLAIN = "You classify support tickets by urgency.\n"
TEMPLATE = "Ticket: {{ ticket }}\nReply in English.\n"
INCLUDING = "Ticket: {{ ticket }}\n{% include 'partials/footer.txt' %}"
FOOTER_BEFORE = "Sign as the support team.\n"
FOOTER_AFTER = "Sign as the support team and add the ticket number.\n"


def count(reference_encoding: Any, text: str) -> int:
    return len(reference_encoding("o200k_base").encode_ordinary(text))


def build(repo: GitRepo, config: str = CONFIG) -> None:
    repo.write("promptguard.toml", config)
    repo.write("prompts/changed.md", CHANGED_BEFORE)
    repo.write("prompts/plain.md", PLAIN)
    repo.write("prompts/template.j2", TEMPLATE)
    repo.write("prompts/including.j2", INCLUDING)
    repo.write("partials/footer.txt", FOOTER_BEFORE)
    repo.commit("base")


def check_json(run_cli: Any, repo: GitRepo, *args: str) -> dict[str, Any]:
    result = run_cli(["check", "--staged", "--format", "json", *args], repo.root)
    assert result.exit_code in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    jsonschema.validate(document, report_schema())
    return document


def paths(document: dict[str, Any]) -> set[str]:
    return {prompt["path"] for prompt in document["prompts"]}


def test_unchanged_prompts_left_out(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    build(repo)
    repo.write("prompts/changed.md", CHANGED_AFTER)
    repo.git("add", "prompts/changed.md")

    document = check_json(run_cli, repo, "--changed-only")

    # The template that includes another file stays, because the included file may have changed.
    assert paths(document) == {"prompts/changed.md", "prompts/including.j2"}
    assert document["scope"] == {"changed_only": True, "unchanged_left_out": 2, "every_prompt_reason": None}
    including = count(reference_encoding, "Ticket: My invoice is wrong\n" + FOOTER_BEFORE) + CHAT_OVERHEAD
    base_total = count(reference_encoding, CHANGED_BEFORE) + CHAT_OVERHEAD + including
    head_total = count(reference_encoding, CHANGED_AFTER) + CHAT_OVERHEAD + including
    assert document["totals"]["base"]["input_tokens"] == base_total
    assert document["totals"]["head"]["input_tokens"] == head_total


def test_changed_delta_matches_full_check(repo: GitRepo, run_cli: Any) -> None:
    build(repo)
    repo.write("prompts/changed.md", CHANGED_AFTER)
    repo.git("add", "prompts/changed.md")

    full = check_json(run_cli, repo)
    changed_only = check_json(run_cli, repo, "--changed-only")

    assert "scope" not in full
    assert len(full["prompts"]) == 4
    full_delta = full["totals"]["head"]["input_tokens"] - full["totals"]["base"]["input_tokens"]
    changed_delta = changed_only["totals"]["head"]["input_tokens"] - changed_only["totals"]["base"]["input_tokens"]
    assert changed_delta == full_delta
    assert Decimal(changed_only["totals"]["monthly_cost_delta"]) == Decimal(full["totals"]["monthly_cost_delta"])


def test_worktree_leaves_out_unchanged(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    build(repo)
    repo.write("prompts/changed.md", CHANGED_AFTER)

    result = run_cli(["check", "--worktree", "--changed-only", "--format", "json"], repo.root)

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert paths(document) == {"prompts/changed.md", "prompts/including.j2"}
    assert document["scope"]["unchanged_left_out"] == 2
    changed = {p["path"]: p for p in document["prompts"]}["prompts/changed.md"]
    assert changed["head"]["input_tokens"] == count(reference_encoding, CHANGED_AFTER) + CHAT_OVERHEAD


def test_changed_include_counts(repo: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    build(repo)
    repo.write("partials/footer.txt", FOOTER_AFTER)
    repo.git("add", "partials/footer.txt")

    document = check_json(run_cli, repo, "--changed-only")

    prompt = {p["path"]: p for p in document["prompts"]}["prompts/including.j2"]
    before = count(reference_encoding, "Ticket: My invoice is wrong\n" + FOOTER_BEFORE) + CHAT_OVERHEAD
    after = count(reference_encoding, "Ticket: My invoice is wrong\n" + FOOTER_AFTER) + CHAT_OVERHEAD
    assert prompt["base"]["input_tokens"] == before
    assert prompt["head"]["input_tokens"] == after
    assert prompt["change"] == "modified"
    assert prompt["hunks"] == []
    assert document["scope"]["unchanged_left_out"] == 3
    text = run_cli(["check", "--staged", "--changed-only"], repo.root)
    assert "prompts/including.j2" in text.stdout
    assert "no prompt changed" not in text.stdout


def test_changed_config_counts_every_prompt(repo: GitRepo, run_cli: Any) -> None:
    build(repo)
    repo.write("promptguard.toml", CONFIG.replace("requests_per_month = 1000", "requests_per_month = 2000"))
    repo.git("add", "promptguard.toml")

    document = check_json(run_cli, repo, "--changed-only")

    assert len(document["prompts"]) == 4
    assert document["scope"]["unchanged_left_out"] == 0
    assert "promptguard.toml" in document["scope"]["every_prompt_reason"]


def test_unstaged_config_edit_counts_every_prompt(repo: GitRepo, run_cli: Any) -> None:
    # The check reads the configuration from the working tree, staged or not.
    build(repo)
    repo.write("promptguard.toml", CONFIG + "\n[budgets]\nmax_input_tokens = { fail = 10 }\n")

    document = check_json(run_cli, repo, "--changed-only")

    assert len(document["prompts"]) == 4
    assert document["status"] == "fail"


def test_pyproject_other_tables_ignored(repo: GitRepo, run_cli: Any) -> None:
    pyproject = '[project]\nname = "app"\nversion = "1.0.0"\n\n[tool.promptguard]\n' + CONFIG
    build(repo, "")
    repo.git("rm", "--quiet", "promptguard.toml")
    repo.write("pyproject.toml", pyproject)
    repo.commit("configuration in pyproject.toml")
    repo.write("pyproject.toml", pyproject.replace('version = "1.0.0"', 'version = "1.0.1"'))
    repo.write("prompts/changed.md", CHANGED_AFTER)
    repo.git("add", "--all")

    document = check_json(run_cli, repo, "--changed-only")

    assert document["scope"]["every_prompt_reason"] is None
    assert document["scope"]["unchanged_left_out"] == 2

    repo.write("pyproject.toml", pyproject.replace("requests_per_month = 1000", "requests_per_month = 2000"))
    repo.git("add", "pyproject.toml")
    document = check_json(run_cli, repo, "--changed-only")
    assert "pyproject.toml" in document["scope"]["every_prompt_reason"]


def test_total_budget_counts_every_prompt(repo: GitRepo, run_cli: Any) -> None:
    build(repo, CONFIG + "\n[budgets]\nmax_monthly_cost = { fail = 1000 }\n")
    repo.write("prompts/changed.md", CHANGED_AFTER)
    repo.git("add", "prompts/changed.md")

    document = check_json(run_cli, repo, "--changed-only")

    assert len(document["prompts"]) == 4
    assert "max_monthly_cost" in document["scope"]["every_prompt_reason"]


def test_text_and_markdown_name_left_out(repo: GitRepo, run_cli: Any) -> None:
    build(repo)
    repo.write("prompts/changed.md", CHANGED_AFTER)
    repo.git("add", "prompts/changed.md")

    text = run_cli(["check", "--staged", "--changed-only"], repo.root)
    markdown = run_cli(["check", "--staged", "--changed-only", "--format", "markdown"], repo.root)

    assert text.exit_code == 0, text.stderr
    assert "(2 unchanged prompts left out by --changed-only, so not counted in the totals)" in text.stdout
    assert markdown.exit_code == 0, markdown.stderr
    assert "2 unchanged prompts are left out of this report and its totals (`--changed-only`)." in markdown.stdout


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "promptguard.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_prompt_with_fixtures_is_kept(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, CONFIG), None, {})
    spec = config.default_prompt("prompts/*.md")
    with_fixtures = dataclasses.replace(spec, fixtures="fixtures/plain.jsonl")
    with_fallback = dataclasses.replace(spec, fallback_model="gpt-4o")

    assert may_leave_out("prompts/plain.md", spec, None)
    assert not may_leave_out("prompts/plain.md", with_fixtures, False)
    assert not may_leave_out("prompts/plain.md", with_fallback, False)


def test_template_reads_detected(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, CONFIG), None, {})
    spec = config.default_prompt("prompts/*.j2")

    assert not reads_templates(b"Hello {{ ticket }} {% if x %}from{% endif %}")
    assert reads_templates(b"{%- include 'x.txt' %}")
    assert reads_templates(b"{% from 'macros.j2' import card %}")
    assert reads_templates(b"{%+ extends 'base.j2' %}")
    assert reads_templates(b"{%import 'macros.j2' as m %}")
    assert reads_templates(b"{%\n  include 'x.txt' %}")
    assert may_leave_out("prompts/a.j2", spec, False)
    assert not may_leave_out("prompts/a.j2", spec, True)
    # A template that was not scanned is kept.
    assert not may_leave_out("prompts/a.j2", spec, None)


def test_config_reason_without_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, CONFIG), None, {})
    without_file = dataclasses.replace(config, source=None)

    assert every_prompt_reason(config, [], b"a = 1\n", b"# a comment\na = 1\n") is None
    assert every_prompt_reason(config, [], b"a = 1\n", b"a = 2\n") is not None
    assert every_prompt_reason(config, [], None, b"a = 1\n") is not None
    # A file that does not parse at one side is compared byte for byte.
    assert every_prompt_reason(config, [], b"a = [", b"a = [") is None
    assert every_prompt_reason(config, [], b"a = [", b"a = 1\n") is not None
    assert every_prompt_reason(without_file, ["prompts/a.md"], None, None) is None
    reason = every_prompt_reason(without_file, ["sub/pyproject.toml"], None, None)
    assert reason is not None
    assert "sub/pyproject.toml" in reason


def test_scan_results_cached_by_blob(repo: GitRepo, run_cli: Any) -> None:
    from promptguard.scope import SCAN_CACHE_NAME, SCAN_CACHE_VERSION
    from promptguard.tokencache import CacheKey, TokenCache

    build(repo)
    repo.write("prompts/changed.md", CHANGED_AFTER)
    repo.git("add", "prompts/changed.md")
    check_json(run_cli, repo, "--changed-only")

    keys = {
        name: CacheKey(repo.git("rev-parse", f"HEAD:prompts/{name}").strip(), SCAN_CACHE_NAME, SCAN_CACHE_VERSION)
        for name in ("template.j2", "including.j2")
    }
    cache = TokenCache.open_default()
    try:
        stored = cache.get_many(keys.values())
    finally:
        cache.close()
    assert stored[keys["template.j2"]] == 0
    assert stored[keys["including.j2"]] == 1
