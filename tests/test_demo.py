"""`promptguard demo` on the bundled sample prompts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_demo_reports_change_and_exits_zero(run_cli: Any, tmp_path: Path) -> None:
    result = run_cli(["demo"], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "prompts/triage/system.j2" in result.stdout
    assert "modified" in result.stdout
    assert "would fail the build" in result.stdout
    assert "max_input_tokens_increase_pct" in result.stdout


def test_demo_json_is_a_report(run_cli: Any, tmp_path: Path) -> None:
    import jsonschema

    from promptguard.report import report_schema

    result = run_cli(["demo", "--format", "json"], tmp_path)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, report_schema())
    triage = next(p for p in document["prompts"] if p["path"] == "prompts/triage/system.j2")
    assert triage["head"]["input_tokens"] > triage["base"]["input_tokens"]
    assert {p["change"] for p in document["prompts"]} == {"modified", "unchanged"}


def test_version_and_module_entry(run_cli: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    from promptguard import __version__

    result = run_cli(["--version"], tmp_path)
    assert result.exit_code == 0
    assert __version__ in result.stdout
    module = subprocess.run([sys.executable, "-m", "promptguard", "--version"], capture_output=True, text=True)
    assert module.returncode == 0
    assert __version__ in module.stdout


def test_demo_markdown_shows_replay_and_trend(run_cli: Any, tmp_path: Path) -> None:
    result = run_cli(["demo", "--format", "markdown"], tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "**Recorded responses**" in result.stdout
    # 18 outputs miss 'priority', 3 are truncated and 2 rate-limited: 23 of 120 at head, 5 of 120 at base.
    assert "4.2%" in result.stdout
    assert "19.2%" in result.stdout
    assert "missing required property 'priority': 18 of 120" in result.stdout.replace("\\", "")
    assert "**Trend**" in result.stdout
    assert "peak" in result.stdout
