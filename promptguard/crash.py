"""Top-level guard: expected errors become one line, crashes become a log file.

Modules needed only to write a crash log are imported when one is written,
so that they do not slow down `promptguard --version` and every other run.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from promptguard import __version__
from promptguard.errors import ExitCode, PromptguardError

_REPORTED_PACKAGES = ("click", "tiktoken", "GitPython", "jsonschema", "genai-prices", "Jinja2", "PyYAML")


def write_crash_log(error: BaseException) -> str:
    """Write versions and the traceback to a new file and return its path."""
    import datetime
    import os
    import platform
    import tempfile
    import traceback
    from importlib import metadata

    lines = [
        f"promptguard {__version__} crashed at {datetime.datetime.now(datetime.UTC).isoformat()}",
        f"python {sys.version.split()[0]} on {platform.platform()}",
        f"argv: {sys.argv!r}",
    ]
    for name in _REPORTED_PACKAGES:
        try:
            lines.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"{name} not installed")
    lines.append("")
    lines.extend(traceback.format_exception(error))

    directory = os.environ.get("PROMPTGUARD_CRASH_DIR") or tempfile.gettempdir()
    handle, path = tempfile.mkstemp(prefix="promptguard-crash-", suffix=".log", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as log:
        log.write("\n".join(lines))
    return path


def run_guarded(command: click.Command, argv: list[str] | None) -> NoReturn:
    """Run a click command in standalone=False mode and exit with a documented code."""
    try:
        result = command.main(args=argv, prog_name="promptguard", standalone_mode=False)
    except PromptguardError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as error:
        error.show()
        sys.exit(ExitCode.INPUT_ERROR)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader of stdout went away (for example `| head`), so there is no one to report to.
        sys.exit(ExitCode.PASS)
    except Exception as error:
        path = write_crash_log(error)
        click.echo(
            f"error: promptguard crashed ({type(error).__name__}: {error}); "
            f"details in {path}, please attach it to a bug report",
            err=True,
        )
        sys.exit(ExitCode.CRASH)
    sys.exit(int(result) if isinstance(result, int) else ExitCode.PASS)
