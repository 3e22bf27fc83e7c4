"""Starter files for a repository: `promptguard.toml`, a GitHub workflow and a pre-commit hook.

Existing files are never overwritten. `write_starter_files` returns what it
wrote and what it skipped, so the command can tell the user.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from promptguard.config import DEFAULT_INCLUDE
from promptguard.errors import ConfigError, OutputError
from promptguard.formats import TEMPLATE_READ_STATEMENT
from promptguard.paths import glob_match, resolve_include

logger = logging.getLogger(__name__)

CONFIG_FILE = "promptguard.toml"
WORKFLOW_FILE = ".github/workflows/promptguard.yml"
PRECOMMIT_FILE = ".pre-commit-config.yaml"

# Directories skipped when the repository is not a git checkout.
_SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox"})

# At most this many found prompt files are listed in the generated config.
_LISTED_PROMPTS = 20

_GLOB_CHARACTERS = frozenset("*?[]{}")

# The literal template name of a Jinja2 include, import, from or extends statement.
_TEMPLATE_NAME = re.compile(TEMPLATE_READ_STATEMENT + r"""\s+(["'])([^"'\n]+)\1""")

WORKFLOW_TEMPLATE = """\
# Comment the token and cost change of prompt files on every pull request.
# Written by `promptguard init`; see docs/github-action.md in promptguard's repository.
name: promptguard

on:
  pull_request:

permissions:
  contents: read
  pull-requests: write  # to post and update the report comment

jobs:
  promptguard:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # the base revision must be in the clone
      # Replace OWNER with the account that hosts promptguard. The action
      # installs promptguard from its own checkout, computes the merge base with
      # the pull request's base branch, annotates files and updates one comment.
      - uses: OWNER/promptguard@v1
        with:
          fail-on: fail
"""

# Files whose change can change a prompt's tokens or cost: configuration,
# template files, and anything under prompts/, fixtures/ or schemas/.
PRECOMMIT_FILES_PATTERN = (
    r"(^|/)(promptguard\.toml|pyproject\.toml)$"
    r"|\.(prompt|prompty|j2|jinja|jinja2)$"
    r"|(^|/)(prompts|fixtures|schemas)/"
)

PRECOMMIT_SNIPPET = f"""\
# promptguard compares the staged prompt files with HEAD before each commit.
# `language: system` runs the promptguard installed in your environment
# (pip install "promptguard-ci @ git+https://github.com/OWNER/promptguard@v1").
# The hook runs only when a staged file matches `files:`; if your `include`
# globs name other places (for example llm/*.txt), add them to the pattern.
repos:
  - repo: local
    hooks:
      - id: promptguard
        name: promptguard
        entry: promptguard check --staged --changed-only
        language: system
        pass_filenames: false
        require_serial: true
        files: {PRECOMMIT_FILES_PATTERN}
"""


@dataclasses.dataclass(frozen=True)
class InitResult:
    """Files written and skipped (repository-relative paths), and the prompt files found."""

    written: tuple[str, ...]
    skipped: tuple[str, ...]
    prompts: tuple[str, ...]


def list_repository_files(root: Path) -> list[str]:
    """Return repository-relative paths: git's tracked and untracked, not ignored, files.

    Outside a git checkout (or without git), walks the directory instead and
    skips common virtual-environment and VCS folders.
    """
    try:
        completed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        logger.info("not a git checkout, listing the files of %s", root)
        return _walk(root)
    return sorted(path for path in completed.stdout.decode("utf-8", "surrogateescape").split("\0") if path)


def _walk(root: Path) -> list[str]:
    paths = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if name not in _SKIPPED_DIRECTORIES]
        for name in files:
            paths.append((Path(directory) / name).relative_to(root).as_posix())
    return sorted(paths)


def find_prompt_files(paths: Iterable[str], globs: Sequence[str] = DEFAULT_INCLUDE) -> list[str]:
    """Return the paths matching any of the default prompt globs that `check` uses."""
    return sorted(path for path in paths if any(glob_match(pattern, path) for pattern in globs))


def find_included_templates(root: Path, prompts: Sequence[str]) -> list[str]:
    """Return the prompt files that another prompt includes, imports or extends by a literal name.

    Names resolve next to the including file first, then from the repository
    root, as `check` resolves them. A file that cannot be read is skipped.
    """
    known = set(prompts)
    included: set[str] = set()
    for path in prompts:
        try:
            text = (root / path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        for match in _TEMPLATE_NAME.finditer(text):
            try:
                resolved = resolve_include(path, match.group(2), known.__contains__)
            except ConfigError:
                continue  # The name leaves the repository, so `check` would reject it.
            if resolved is not None and resolved != path:
                included.add(resolved)
    # A path with glob characters would not match itself as an `exclude` glob.
    return sorted(path for path in included if not _GLOB_CHARACTERS.intersection(path))


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_config(prompts: Sequence[str], included: Sequence[str] = ()) -> str:
    """Return a commented promptguard.toml that `promptguard check` accepts as is.

    `included` are prompt files that other prompts include, and they go to `exclude`.
    """
    if prompts:
        found = [f"#   {path}" for path in prompts[:_LISTED_PROMPTS]]
        if len(prompts) > _LISTED_PROMPTS:
            found.append(f"#   ... and {len(prompts) - _LISTED_PROMPTS} more")
        found_text = "\n".join([f"# `promptguard init` found {len(prompts)} prompt file(s):", *found])
    else:
        found_text = "# `promptguard init` found no prompt files; adjust `include` below."
    include = "\n".join(f"    {_toml_string(pattern)}," for pattern in DEFAULT_INCLUDE)
    if included:
        excluded = "\n".join(f"    {_toml_string(path)}," for path in included)
        exclude = (
            "# Templates that other prompts include, import or extend: they are counted\n"
            "# inside those prompts, and would count twice as prompts of their own.\n"
            f"exclude = [\n{excluded}\n]"
        )
    else:
        exclude = "exclude = []"
    # Only comments change the sections below; every key must stay valid for
    # config.schema.json, which rejects unknown keys.
    return f"""\
# promptguard configuration. Token counts and list prices are computed offline.
{found_text}

# Model used for prompts without their own [[prompts]] entry.
model = "gpt-4o-mini"
# Traffic of each prompt, for the monthly cost.
requests_per_month = 1_000_000
# Output tokens assumed per request when no fixtures give real completions.
expected_output_tokens = 300

# Globs of prompt files, relative to the repository root (these are the defaults).
include = [
{include}
]
{exclude}

# Give one prompt its own model, traffic or budgets:
# [[prompts]]
# path = "prompts/support/*.j2"
# model = "gpt-4o"
# requests_per_month = 5_000_000

# Budgets: exceeding `fail` fails the check (exit code 1), exceeding `warn` warns.
[budgets]
# Input tokens of one prompt grow by more than this many percent.
max_input_tokens_increase_pct = {{ warn = 10, fail = 25 }}
# Monthly cost of all prompts grows by more than this many US dollars.
max_monthly_cost_increase = {{ warn = 100, fail = 1000 }}
"""


def _write_new(path: Path, text: str) -> bool:
    """Create the file with `text`; return False without writing if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        return False
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}") from error
    return True


def write_starter_files(root: Path, *, write_precommit: bool = True) -> InitResult:
    """Write promptguard.toml, the workflow and, if absent, .pre-commit-config.yaml under root."""
    prompts = find_prompt_files(list_repository_files(root))
    included = find_included_templates(root, prompts)
    files = {CONFIG_FILE: render_config(prompts, included), WORKFLOW_FILE: WORKFLOW_TEMPLATE}
    if write_precommit:
        files[PRECOMMIT_FILE] = PRECOMMIT_SNIPPET

    written: list[str] = []
    skipped: list[str] = []
    for relative, text in files.items():
        if _write_new(root / relative, text):
            written.append(relative)
        else:
            skipped.append(relative)
    return InitResult(tuple(written), tuple(skipped), tuple(prompts))
