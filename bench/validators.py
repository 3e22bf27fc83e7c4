"""Measure how much faster libraries would make the replay floor: JSON parsing and fixture validation.

The replay floor is `json.loads` plus jsonschema's `Draft202012Validator`
on every fixture record. This script times that loop against the same loop
with orjson for parsing and with fastjsonschema for validation, where those
optional packages are installed, on the same generated records. It also
checks that fastjsonschema accepts and rejects the same records.

    python bench/validators.py --records 200000 --repetitions 3

The fastjsonschema check is promptguard's own (`fast_fixture_check`), which
compiles the fixture schema as draft 7.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth

FIXTURE_SCHEMA = Path(__file__).resolve().parents[1] / "promptguard" / "schemas" / "fixture.schema.json"

# Records that both validators must accept or reject alike: one valid, the others invalid in different ways.
PROBES: list[Any] = [
    {"output": "ok"},
    {"output": None, "error": "timeout"},
    {},
    {"output": "ok", "unknown": 1},
    {"output": "ok", "usage": {"input_tokens": -1}},
    {"output": "ok", "id": ""},
    [],
]


def loop(lines: list[bytes], parse: Callable[[bytes], Any], is_valid: Callable[[Any], bool]) -> int:
    valid = 0
    for line in lines:
        if is_valid(parse(line)):
            valid += 1
    return valid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repetitions", type=int, default=3)
    options = parser.parse_args()

    from jsonschema import Draft202012Validator

    schema = json.loads(FIXTURE_SCHEMA.read_text(encoding="utf-8"))
    reference = Draft202012Validator(schema)
    parsers: dict[str, Callable[[bytes], Any]] = {"json": json.loads}
    validators: dict[str, Callable[[Any], bool]] = {
        "jsonschema": lambda record: next(reference.iter_errors(record), None) is None
    }
    if importlib.util.find_spec("orjson") is not None:
        import orjson

        parsers["orjson"] = orjson.loads
    from promptguard.fixtures.jsonl import fast_fixture_check

    fast_is_valid = fast_fixture_check()
    if fast_is_valid is not None:
        for probe in PROBES:
            if fast_is_valid(probe) != reference.is_valid(probe):
                raise SystemExit(f"fastjsonschema and jsonschema disagree on {probe!r}")
        validators["fastjsonschema"] = fast_is_valid

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fixtures.jsonl"
        synth.write_fixtures(path, options.records)
        lines = path.read_bytes().splitlines()

    results: dict[tuple[str, str], list[float]] = {}
    counts: set[int] = set()
    for _ in range(options.repetitions):
        for parser_name, parse in parsers.items():
            for validator_name, is_valid in validators.items():
                start = time.perf_counter()
                counts.add(loop(lines, parse, is_valid))
                results.setdefault((parser_name, validator_name), []).append(time.perf_counter() - start)
    if len(counts) != 1:
        raise SystemExit(f"the combinations counted different numbers of valid records: {sorted(counts)}")

    floor = statistics.median(results[("json", "jsonschema")])
    print(f"{options.records:,} records, {options.repetitions} runs each, medians\n")
    print("| parser | validator | median | records/s | vs floor |")
    print("|---|---|---|---|---|")
    for (parser_name, validator_name), times in results.items():
        median = statistics.median(times)
        print(
            f"| {parser_name} | {validator_name} | {median * 1000:.0f} ms | {options.records / median:,.0f} "
            f"| {median / floor:.2f}x |"
        )


if __name__ == "__main__":
    main()
