"""Run every promptguard benchmark against its floor and print a Markdown table.

Each benchmark runs promptguard and a minimal floor script on the same inputs
in fresh subprocesses, so interpreter start-up and imports count. The two
alternate, one warm-up run each first, and the table shows medians of wall
time and their ratio. Peak memory is each child's max RSS from `os.wait4`.

    python bench/run.py            # full sizes (2,000 prompts, 1M fixture records)
    python bench/run.py --quick    # small sizes, a minute or two
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth

PYTHON = sys.executable
PROMPTGUARD = str(Path(PYTHON).with_name("promptguard"))
FABRIC_BUNDLE = Path(__file__).resolve().parents[2] / "shared" / "real" / "fabric-prompts.bundle"
FIXTURE_SCHEMA = Path(__file__).resolve().parents[1] / "promptguard" / "schemas" / "fixture.schema.json"
FABRIC_GLOBS = ("patterns/*/system.md", "data/patterns/*/system.md")
MEMORY_BASELINE_RECORDS = 10_000

# Floor of `check`: the diff, both blobs of every prompt from one `git cat-file --batch`, one batch encode.
FLOOR_CHECK = r"""
import subprocess, sys
from promptguard.tokenizers import get_encoding
repo, base, head = sys.argv[1:4]
def git(*args, data=None):
    return subprocess.run(["git", "-C", repo, *args], input=data, capture_output=True, check=True).stdout
git("diff", "--name-status", "-z", "-M", base, head, "--")
blobs = []
for revision in (base, head):
    for record in git("ls-tree", "-r", "-z", revision, "--", "prompts").split(b"\0"):
        if record:
            blobs.append(record.split(b"\t")[0].split(b" ")[2])
output = git("cat-file", "--batch", data=b"\n".join(blobs) + b"\n")
texts, position = [], 0
while position < len(output):
    header_end = output.index(b"\n", position)
    size = int(output[position:header_end].split(b" ")[2])
    texts.append(output[header_end + 1:header_end + 1 + size].decode("utf-8"))
    position = header_end + 2 + size
encoding = get_encoding("o200k_base")
print(sum(len(tokens) for tokens in encoding.encode_ordinary_batch(texts)))
"""

# Floor of `check --staged`: import tiktoken, load the encoding, count one file.
FLOOR_STAGED = r"""
import sys
import tiktoken
from promptguard.tokenizers import get_encoding
with open(sys.argv[1], encoding="utf-8") as stream:
    print(len(get_encoding("o200k_base").encode_ordinary(stream.read())))
"""

FLOOR_VERSION = "import click"

# Replay through promptguard: read every attempt and validate its output as JSON (`output_format = "json"`).
REPLAY = r"""
import sys
from promptguard.fixtures import read_attempts
from promptguard.replay import replay
from promptguard.validators import OutputRules, OutputValidator
with open(sys.argv[1], "rb") as stream:
    stats = replay(read_attempts(sys.argv[1], stream), OutputValidator(OutputRules(output_format="json")))
print(stats.attempts, stats.failures, stats.output_tokens.total)
"""

# Fixture reading alone, for when `promptguard.replay` does not exist.
READ_FIXTURES = r"""
import sys
from promptguard.fixtures import read_attempts
with open(sys.argv[1], "rb") as stream:
    reader = read_attempts(sys.argv[1], stream)
    output_tokens = sum(attempt.output_tokens or 0 for attempt in reader)
print(reader.attempts_read, reader.skipped_count, output_tokens)
"""

# Floor of fixture reading: json.loads and the same schema compiled by the same validator class.
FLOOR_REPLAY = r"""
import json, sys
from jsonschema import Draft202012Validator
with open(sys.argv[2], encoding="utf-8") as stream:
    validator = Draft202012Validator(json.load(stream))
records = output_tokens = 0
with open(sys.argv[1], "rb") as stream:
    for line in stream:
        record = json.loads(line)
        if next(validator.iter_errors(record), None) is None:
            records += 1
            output_tokens += record["usage"]["output_tokens"]
print(records, output_tokens)
"""

# Floor of `history`: one `git log` over the prompt paths, each distinct blob tokenized once.
FLOOR_HISTORY = r"""
import subprocess, sys
from promptguard.tokenizers import get_encoding
repo, globs = sys.argv[1], sys.argv[2:]
def git(*args, data=None):
    return subprocess.run(["git", "-C", repo, *args], input=data, capture_output=True, check=True).stdout
log = git("log", "--raw", "--no-abbrev", "--no-renames", "-z", "--format=%H %at", "--", *globs)
blobs = set()
for field in log.split(b"\0"):
    if field.startswith(b":"):
        new_blob = field.split(b" ")[3]
        if new_blob.strip(b"0"):
            blobs.add(new_blob)
output = git("cat-file", "--batch", data=b"\n".join(sorted(blobs)) + b"\n")
texts, position = [], 0
while position < len(output):
    header_end = output.index(b"\n", position)
    size = int(output[position:header_end].split(b" ")[2])
    texts.append(output[header_end + 1:header_end + 1 + size].decode("utf-8", "replace"))
    position = header_end + 2 + size
encoding = get_encoding("o200k_base")
print(len(texts), sum(len(tokens) for tokens in encoding.encode_ordinary_batch(texts)))
"""


@dataclass(frozen=True)
class Run:
    """One finished child process: wall time in seconds and peak resident memory in KiB."""

    seconds: float
    max_rss_kib: int


@dataclass
class Row:
    """One line of the results table."""

    name: str
    promptguard: str
    floor: str
    ratio: float | None
    target: float
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "skipped"
        return "met" if self.ratio <= self.target else "MISSED"


@dataclass
class Comparison:
    """Alternating runs of promptguard and its floor."""

    promptguard: list[Run] = field(default_factory=list)
    floor: list[Run] = field(default_factory=list)

    def median_seconds(self, runs: Sequence[Run]) -> float:
        return statistics.median(run.seconds for run in runs)

    def ratio(self) -> float:
        return self.median_seconds(self.promptguard) / self.median_seconds(self.floor)


def clean_environment() -> dict[str, str]:
    """Return the environment without GIT_* variables, which a git hook would set and which redirect git."""
    return {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}


def run_child(argv: Sequence[str], cwd: Path, accept: Sequence[int] = (0,), empty_cache: bool = False) -> Run:
    """Run one command to completion and measure it. Raises RuntimeError if its exit code is not in `accept`.

    With `empty_cache`, the command gets a new, empty PROMPTGUARD_CACHE_DIR.
    """
    environment = clean_environment()
    if empty_cache:
        environment["PROMPTGUARD_CACHE_DIR"] = tempfile.mkdtemp(prefix="cache-", dir=cwd.parent)
    start = time.perf_counter()
    process = subprocess.Popen(list(argv), cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode not in accept:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    # ru_maxrss is in KiB on Linux.
    return Run(seconds, usage.ru_maxrss)


def compare(
    promptguard: Sequence[str],
    floor: Sequence[str],
    cwd: Path,
    repetitions: int,
    accept: Sequence[int] = (0,),
    warm_up: bool = True,
    empty_cache: bool = False,
) -> Comparison:
    """Run promptguard and the floor alternately, after one unmeasured warm-up run of each by default.

    With `empty_cache`, every promptguard run starts with empty caches (token counts, price rates).
    """
    if warm_up:
        run_child(promptguard, cwd, accept, empty_cache)
        run_child(floor, cwd)
    comparison = Comparison()
    for _ in range(repetitions):
        comparison.promptguard.append(run_child(promptguard, cwd, accept, empty_cache))
        comparison.floor.append(run_child(floor, cwd))
    return comparison


def time_row(name: str, comparison: Comparison, target: float, note: str = "") -> Row:
    return Row(
        name,
        f"{comparison.median_seconds(comparison.promptguard) * 1000:.0f} ms",
        f"{comparison.median_seconds(comparison.floor) * 1000:.0f} ms",
        comparison.ratio(),
        target,
        note,
    )


def bench_check(workdir: Path, prompts: int, changed: int, repetitions: int) -> list[Row]:
    repository = workdir / f"check-{prompts}"
    base, head = synth.build_repository(repository, prompts, changed)
    command = [PROMPTGUARD, "check", "--base", base, "--head", head, "--format", "json"]
    floor = [PYTHON, "-c", FLOOR_CHECK, str(repository), base, head]
    name = f"`promptguard check`, {prompts:,} prompts, {changed:,} changed"
    # The warm-up run fills the token-count and price-rate caches, as an earlier CI run would.
    warm = compare(command, floor, repository, repetitions, accept=(0, 1))
    cold = compare(command, floor, repository, repetitions, accept=(0, 1), empty_cache=True)
    return [
        time_row(f"{name}, caches filled", warm, 1.5),
        time_row(f"{name}, caches empty", cold, 1.5),
    ]


def bench_staged(workdir: Path, prompt_counts: Sequence[int], repetitions: int) -> list[Row]:
    rows = []
    for prompts in prompt_counts:
        repository = workdir / f"staged-{prompts}"
        synth.build_repository(repository, prompts, 0)
        path = synth.stage_one_change(repository)
        floor = [PYTHON, "-c", FLOOR_STAGED, str(repository / path)]
        # The pre-commit hook's exact command (a text report) first, then the JSON check of every prompt.
        for flags in (["--staged", "--changed-only"], ["--staged", "--format", "json"]):
            command = [PROMPTGUARD, "check", *flags]
            name = f"`promptguard check {' '.join(flags)}`, 1 changed of {prompts:,} prompts"
            warm = compare(command, floor, repository, repetitions, accept=(0, 1))
            cold = compare(command, floor, repository, repetitions, accept=(0, 1), empty_cache=True)
            rows.append(time_row(f"{name}, caches filled", warm, 1.5))
            rows.append(time_row(f"{name}, caches empty", cold, 1.5))
    return rows


def bench_version(workdir: Path, repetitions: int) -> list[Row]:
    comparison = compare([PROMPTGUARD, "--version"], [PYTHON, "-c", FLOOR_VERSION], workdir, repetitions)
    return [time_row("`promptguard --version`", comparison, 1.3)]


def bench_replay(workdir: Path, records: int, repetitions: int) -> list[Row]:
    """Time replaying `records` fixture records, and compare peak memory with replaying 10,000."""
    if importlib.util.find_spec("promptguard.replay") is not None:
        script, name = REPLAY, "replay (`promptguard.replay`, JSON output check)"
    else:
        script, name = READ_FIXTURES, "fixture reading (`promptguard.replay` does not exist yet)"
        print(f"replay: {name}", file=sys.stderr)
    large = workdir / "fixtures" / f"{records}.jsonl"
    small = workdir / "fixtures" / f"{MEMORY_BASELINE_RECORDS}.jsonl"
    synth.write_fixtures(large, records)
    synth.write_fixtures(small, MEMORY_BASELINE_RECORDS)

    comparison = compare(
        [PYTHON, "-c", script, str(large)],
        [PYTHON, "-c", FLOOR_REPLAY, str(large), str(FIXTURE_SCHEMA)],
        workdir,
        repetitions,
        warm_up=False,
    )
    small_runs = [run_child([PYTHON, "-c", script, str(small)], workdir) for _ in range(3)]
    large_rss = statistics.median(run.max_rss_kib for run in comparison.promptguard)
    small_rss = statistics.median(run.max_rss_kib for run in small_runs)
    return [
        time_row(f"{name}, {records:,} records", comparison, 2.0),
        Row(
            f"{name}, peak memory at {records:,} vs {MEMORY_BASELINE_RECORDS:,} records",
            f"{large_rss / 1024:.0f} MiB",
            f"{small_rss / 1024:.0f} MiB",
            large_rss / small_rss,
            1.2,
            "floor column: promptguard itself at 10,000 records",
        ),
        bench_check_with_fixtures(workdir, large, repetitions),
    ]


def bench_check_with_fixtures(workdir: Path, fixtures: Path, repetitions: int) -> Row:
    """Time `check` on a prompt whose config names a fixture file, if check reads fixtures at all."""
    name = f"`promptguard check` with fixtures, {int(fixtures.stem):,} records"
    repository = workdir / "check-fixtures"
    synth.build_repository(repository, 10, 0)
    (repository / "fixtures").mkdir()
    os.link(fixtures, repository / "fixtures" / "x.jsonl")
    # One prompt replays the fixtures, so the row times a single pass over them.
    prompt = min(path.relative_to(repository).as_posix() for path in (repository / "prompts").rglob("*.*"))
    config = repository / "promptguard.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[[prompts]]\npath = "{prompt}"\nfixtures = "fixtures/x.jsonl"\noutput_format = "json"\n',
        encoding="utf-8",
    )
    # The fixture file stays uncommitted (a commit of a million records is slow), so the
    # working tree is checked; its fixtures are streamed from disk.
    command = [PROMPTGUARD, "check", "--worktree", "--no-trend", "--format", "json"]
    report = subprocess.run(command, cwd=repository, env=clean_environment(), capture_output=True, text=True)
    if report.returncode not in (0, 1):
        return Row(
            name, "-", "-", None, 2.0, f"skipped: check exited {report.returncode}: {report.stderr.strip()[-200:]}"
        )
    if not any(word in report.stdout for word in ("fixture", "replay", "success")):
        return Row(name, "-", "-", None, 2.0, "skipped: the check report has no fixture or replay figures yet")
    comparison = compare(
        command, [PYTHON, "-c", FLOOR_REPLAY, str(fixtures), str(FIXTURE_SCHEMA)], repository, repetitions, (0, 1)
    )
    return time_row(name, comparison, 2.0)


def bench_history(workdir: Path, repetitions: int) -> list[Row]:
    name = "`promptguard history`, every prompt of the fabric repository"
    if importlib.util.find_spec("promptguard.commands.history") is None:
        reason = "skipped: `promptguard history` does not exist yet (no promptguard.commands.history)"
        print(f"history: {reason}", file=sys.stderr)
        return [Row(name, "-", "-", None, 2.0, reason)]
    if not FABRIC_BUNDLE.is_file():
        return [Row(name, "-", "-", None, 2.0, f"skipped: {FABRIC_BUNDLE} not found")]
    clone = workdir / "fabric"
    synth.git(workdir, "clone", "--quiet", str(FABRIC_BUNDLE), str(clone))
    # The config stays untracked in the temporary clone.
    include = ", ".join(json.dumps(glob) for glob in FABRIC_GLOBS)
    (clone / "promptguard.toml").write_text(f'model = "gpt-4o-mini"\ninclude = [{include}]\n', encoding="utf-8")
    floor = [PYTHON, "-c", FLOOR_HISTORY, str(clone), *FABRIC_GLOBS]
    cold = compare([PROMPTGUARD, "history", "--no-cache", "--format", "json"], floor, clone, repetitions, (0, 1))
    # The warm-up run fills the token-count cache, so the measured runs read every count from it.
    warm = compare([PROMPTGUARD, "history", "--format", "json"], floor, clone, repetitions, (0, 1))
    return [
        time_row(f"{name}, `--no-cache`", cold, 2.0),
        time_row(f"{name}, token-count cache filled", warm, 2.0),
    ]


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_description() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as stream:
        for line in stream:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    packages = ("promptguard-ci", "tiktoken", "click", "GitPython", "jsonschema", "genai-prices", "Jinja2", "PyYAML")
    versions = ", ".join(f"{package} {package_version(package)}" for package in packages)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, {git_version}",
        f"- packages: {versions}",
    ]


def format_table(rows: Sequence[Row]) -> str:
    lines = [
        "| benchmark | promptguard median | floor median | ratio | target | verdict | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        lines.append(
            f"| {row.name} | {row.promptguard} | {row.floor} | {ratio} | ≤ {row.target}x | {row.verdict} | {row.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the promptguard benchmarks and print a Markdown table.")
    parser.add_argument("--quick", action="store_true", help="Small sizes and 3 repetitions, for a quick look.")
    parser.add_argument("--repetitions", type=int, help="Measured runs of each side (default: 3 quick, 5 full).")
    parser.add_argument(
        "--only", action="append", choices=("check", "staged", "version", "replay", "history"), help="Run only these."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the generated repositories and print where.")
    options = parser.parse_args()
    if not Path(PROMPTGUARD).is_file():
        parser.error(f"{PROMPTGUARD} not found: install promptguard into the interpreter running this script")

    repetitions = options.repetitions or (3 if options.quick else 5)
    prompts, changed, records = (200, 20, 100_000) if options.quick else (2000, 200, 1_000_000)
    benchmarks: dict[str, Callable[[Path], list[Row]]] = {
        "check": lambda workdir: bench_check(workdir, prompts, changed, repetitions),
        "staged": lambda workdir: bench_staged(workdir, (50, prompts), repetitions),
        "version": lambda workdir: bench_version(workdir, repetitions * 2),
        "replay": lambda workdir: bench_replay(workdir, records, min(repetitions, 3)),
        "history": lambda workdir: bench_history(workdir, repetitions),
    }
    selected = options.only or list(benchmarks)

    # pip compiles the bytecode of a package it installs. Without this step, an
    # editable install or PYTHONDONTWRITEBYTECODE would make every run compile
    # promptguard from source, a cost the floors (tiktoken, click) do not pay.
    import compileall

    import promptguard

    compileall.compile_dir(str(Path(promptguard.__file__).parent), quiet=1)

    workdir = Path(tempfile.mkdtemp(prefix="promptguard-bench-"))
    # Keep the token-count cache of `history` inside the temporary directory, away from the user's cache.
    os.environ["PROMPTGUARD_CACHE_DIR"] = str(workdir / "cache")
    rows: list[Row] = []
    try:
        for name in selected:
            print(f"running {name} ...", file=sys.stderr)
            rows.extend(benchmarks[name](workdir))
    finally:
        if options.keep:
            print(f"inputs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"`{' '.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}`, {repetitions} measured runs per side\n")
    print("\n".join(machine_description()) + "\n")
    print(format_table(rows))


if __name__ == "__main__":
    main()
