"""Exceptions and exit codes shared by every command.

Core modules raise `PromptguardError` subclasses for expected failures. Only
the CLI layer turns them into a one-line message and an exit code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README."""

    PASS = 0
    BUDGET_EXCEEDED = 1
    INPUT_ERROR = 2
    CRASH = 3
    INTERRUPTED = 130


class PromptguardError(Exception):
    """An expected failure caused by the input: one line naming the value and the fix."""

    exit_code = ExitCode.INPUT_ERROR

    def __init__(self, message: str, *, location: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.fix = fix

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.fix:
            text = f"{text} ({self.fix})"
        return text


def format_json_path(parts: Iterable[str | int]) -> str:
    """Format the path of a value in a JSON or TOML document as `usage.output_tokens` or `items[2].name`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = part
    return text


class ConfigError(PromptguardError):
    """The configuration file is unreadable, malformed or names something that does not exist."""


class RevisionError(PromptguardError):
    """A git revision is unknown, unsafe or missing from a shallow clone."""


class PromptFormatError(PromptguardError):
    """A prompt file cannot be decoded, parsed or rendered."""


class UndefinedVariableError(PromptFormatError):
    """A template reads a variable that the configuration does not give."""

    def __init__(self, variable: str, *, location: str | None = None, config_name: str = "promptguard.toml"):
        super().__init__(f"undefined variable {variable!r}", location=location)
        self.variable = variable
        self.name_configuration(config_name)

    def name_configuration(self, config_name: str) -> None:
        """Point the fix at the configuration file that sets this prompt's variables."""
        if config_name.rsplit("/", 1)[-1] == "pyproject.toml":
            config_name = f"[tool.promptguard] of {config_name}"
        self.fix = f"add {self.variable} to `variables` of this prompt in {config_name}"


class ModelError(PromptguardError):
    """A model has no known tokenizer mapping or no price."""


class FixtureError(PromptguardError):
    """A fixture file or record is malformed (raised only in strict mode)."""


class OutputError(PromptguardError):
    """A report file cannot be written."""
