"""Tests for `promptguard annotate`: workflow commands, job summary and step outputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from report_builders import budget, fail_report, pass_report, validate_report, warn_report

from promptguard.annotate import escape_data, escape_property, format_annotations, workflow_command
from promptguard.cli import main


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code or 0)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)


def write_report(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def with_violations(count: int, level: str) -> dict[str, Any]:
    document = copy.deepcopy(fail_report())
    extra = [
        budget("max_input_tokens", f"prompts/p{index}.j2", level, "10", "20", f"prompt {index} over")
        for index in range(count)
    ]
    document["budgets"] = extra
    document["violations"] = extra
    validate_report(document)
    return document


# Escaping.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100%", "100%25"),
        ("a\nb", "a%0Ab"),
        ("a\r\nb", "a%0D%0Ab"),
        ("a:b,c", "a:b,c"),
        ("%0A", "%250A"),
    ],
)
def test_escape_data(text: str, expected: str) -> None:
    assert escape_data(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a:b,c", "a%3Ab%2Cc"), ("50%\n", "50%25%0A"), ("prompts/x.j2", "prompts/x.j2")],
)
def test_escape_property(text: str, expected: str) -> None:
    assert escape_property(text) == expected


def test_workflow_command_escapes_both_parts() -> None:
    line = workflow_command("error", "cost up 50%\nsee summary", {"file": "p,1:2.j2", "title": "a: b"})

    assert line == "::error file=p%2C1%3A2.j2,title=a%3A b::cost up 50%25%0Asee summary"


def test_hostile_path_stays_one_command() -> None:
    document = with_violations(1, "fail")
    document["violations"][0]["prompt"] = "prompts/x.j2\n::error::injected,title=x"
    document["violations"][0]["message"] = "over\n::warning::fake"

    [line] = format_annotations(document)

    assert "\n" not in line
    assert line.startswith("::error file=prompts/x.j2%0A%3A%3Aerror%3A%3Ainjected%2Ctitle=x,title=")
    assert line.endswith("::over%0A::warning::fake")


# Annotations from a report.


def test_fail_report_annotations() -> None:
    lines = format_annotations(fail_report())

    assert lines == [
        "::error file=prompts/agent/system.md,line=40,title=promptguard budget max_input_tokens"
        "::5400 input tokens, limit 4000",
        "::error file=prompts/agent/system.md,line=40,"
        "title=promptguard budget max_cost_per_success_increase"
        "::cost per success grows by 80.2%25, limit 25%25",
        "::warning file=prompts/agent/tools.json,line=10,title=promptguard budget max_input_tokens"
        "::960 input tokens, warning at 950",
    ]


def test_totals_budget_has_no_file() -> None:
    [line] = format_annotations(warn_report())

    assert line.startswith("::warning title=promptguard budget max_monthly_cost_delta::")


def test_pass_report_has_no_annotations() -> None:
    assert format_annotations(pass_report()) == []


def test_annotations_capped_per_level() -> None:
    document = with_violations(13, "fail")
    document["violations"] += with_violations(11, "warn")["violations"]

    lines = format_annotations(document)

    assert sum(line.startswith("::error ") for line in lines) == 10
    assert sum(line.startswith("::warning ") for line in lines) == 10
    assert lines[-1] == (
        "::notice title=promptguard::3 more budget errors and 1 more budget warning are in the job summary"
    )
    assert len(lines) == 21


# The command, with the GitHub Actions files.


def test_command_prints_annotations(clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(tmp_path, fail_report())

    exit_code = run_cli(["annotate", "--report", str(report)])

    assert exit_code == 0
    out = capsys.readouterr().out
    assert out.count("::error ") == 2
    assert out.count("::warning ") == 1


def test_command_writes_summary_and_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    outputs = tmp_path / "output.txt"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    report = write_report(tmp_path, warn_report())

    exit_code = run_cli(["annotate", "--report", str(report)])

    assert exit_code == 0
    summary_text = summary.read_text(encoding="utf-8")
    assert summary_text.startswith("# earlier step\n### ⚠️ promptguard: warn")
    assert outputs.read_text(encoding="utf-8") == (
        f"status=warn\nreport-path={report.resolve()}\nmonthly-cost-delta=456.90\n"
    )


def test_multiline_output_uses_heredoc(tmp_path: Path) -> None:
    from promptguard.annotate import write_outputs

    outputs = tmp_path / "output.txt"

    write_outputs(outputs, {"note": "line 1\nline 2"})

    lines = outputs.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("note<<ghadelimiter_")
    assert lines[1:3] == ["line 1", "line 2"]
    assert lines[3] == lines[0].removeprefix("note<<")


def test_unwritable_output_is_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "missing" / "output.txt"))
    report = write_report(tmp_path, pass_report())

    exit_code = run_cli(["annotate", "--report", str(report)])

    assert exit_code == 2
    assert "cannot append to GITHUB_OUTPUT file" in capsys.readouterr().err


def test_missing_report_is_input_error(clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = run_cli(["annotate", "--report", str(tmp_path / "nope.json")])

    assert exit_code == 2
    assert "not found" in capsys.readouterr().err


def test_newer_report_version_is_rejected(clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = pass_report()
    document["version"] = 2
    report = write_report(tmp_path, document)

    exit_code = run_cli(["annotate", "--report", str(report)])

    assert exit_code == 2
    assert "report version 2 is not supported" in capsys.readouterr().err
