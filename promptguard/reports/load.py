"""Read a saved JSON report (`promptguard check --format json --output FILE`) and validate it."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from promptguard.errors import PromptguardError


class ReportFileError(PromptguardError):
    """A saved report is missing, unreadable, not JSON or not a version 1 report."""


@functools.cache
def _report_schema() -> dict[str, Any]:
    text = resources.files("promptguard.schemas").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_report(path: Path) -> dict[str, Any]:
    """Read and validate a version 1 report document; raise ReportFileError naming the problem."""
    import jsonschema

    fix = "write it with `promptguard check --format json --output FILE`"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise ReportFileError(f"report file {str(path)!r} not found", fix=fix) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ReportFileError(f"cannot read report file {str(path)!r}: {error}", fix=fix) from error

    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportFileError(
            f"report file is not valid JSON: {error.msg} at line {error.lineno}",
            location=str(path),
            fix=fix,
        ) from error

    if isinstance(document, dict) and document.get("version") not in (None, 1):
        raise ReportFileError(
            f"report version {document.get('version')!r} is not supported, only version 1",
            location=str(path),
            fix="use the same promptguard version for check and this command",
        )
    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(_report_schema()).iter_errors(document))
    if problem is not None:
        where = "/".join(str(step) for step in problem.absolute_path) or "document"
        raise ReportFileError(f"invalid report at {where}: {problem.message}", location=str(path), fix=fix)
    result: dict[str, Any] = document
    return result
