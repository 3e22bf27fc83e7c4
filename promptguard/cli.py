"""Command-line entry point: parses options, dispatches, maps outcomes to exit codes.

Subcommands live in `promptguard.commands.*` and are imported only when run,
so `promptguard --version` and `--help` stay as fast as importing click.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from promptguard import __version__

# Subcommand name -> "module:attribute" of its click command.
COMMANDS: dict[str, str] = {
    "check": "promptguard.commands.check:check",
    "demo": "promptguard.commands.demo:demo",
    "comment": "promptguard.commands.comment:comment",
    "annotate": "promptguard.commands.annotate:annotate",
    "init": "promptguard.commands.init:init",
    "history": "promptguard.commands.history:history",
}

COMMAND_HELP: dict[str, str] = {
    "check": "Compare prompt tokens and cost between two revisions.",
    "demo": "Run check on a throwaway repository built from the sample prompts.",
    "comment": "Post or update the pull-request comment for a JSON report.",
    "annotate": "Write GitHub Actions annotations, step summary and outputs for a report.",
    "init": "Write a starter promptguard.toml, workflow and pre-commit snippet.",
    "history": "Show token and cost history of prompts across commits.",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        if ctx.resilient_parsing or "--help" in sys.argv[1:2]:
            # Listing commands in the group's --help needs only their summaries.
            return click.Command(cmd_name, help=COMMAND_HELP[cmd_name], short_help=COMMAND_HELP[cmd_name])
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


def configure_logging(verbosity: int) -> None:
    """Send diagnostics to stderr: warnings by default, errors only with --quiet, debug with --verbose."""
    # Imported here, not at the top, because `--version` and `--help` exit before this runs.
    import logging

    class StderrFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            prefix = {"WARNING": "warning: ", "ERROR": "error: ", "DEBUG": "debug: "}.get(record.levelname, "")
            return prefix + record.getMessage()

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StderrFormatter())
    root = logging.getLogger("promptguard")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="promptguard")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="Print progress (-v) or debug details (-vv) on stderr.")
def cli(quiet: bool, verbose: int) -> None:
    """Review the token and cost impact of prompt changes, offline.

    Exit codes: 0 pass, 1 a budget failed, 2 usage or input error,
    3 unexpected crash (a crash log is written), 130 interrupted.
    """
    configure_logging(-1 if quiet else verbose)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI and exit with a documented code; see `promptguard.errors.ExitCode`."""
    from promptguard.crash import run_guarded

    return run_guarded(cli, argv)
