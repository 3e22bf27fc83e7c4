"""Generate synthetic inputs for the benchmarks: git repositories of prompts and JSONL fixture files.

Everything is seeded, so one seed always yields the same files, and therefore
the same blobs and token counts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
from pathlib import Path

# Words for prose that tokenizes like English instructions.
WORDS = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "if",
    "then",
    "when",
    "while",
    "because",
    "so",
    "that",
    "which",
    "who",
    "customer",
    "ticket",
    "order",
    "invoice",
    "refund",
    "account",
    "plan",
    "billing",
    "charge",
    "support",
    "agent",
    "reply",
    "summary",
    "answer",
    "question",
    "request",
    "response",
    "model",
    "prompt",
    "context",
    "document",
    "article",
    "policy",
    "escalate",
    "priority",
    "urgent",
    "normal",
    "low",
    "high",
    "category",
    "label",
    "field",
    "value",
    "json",
    "object",
    "string",
    "number",
    "list",
    "item",
    "step",
    "first",
    "second",
    "third",
    "next",
    "last",
    "always",
    "never",
    "only",
    "must",
    "should",
    "may",
    "can",
    "cannot",
    "do",
    "not",
    "use",
    "include",
    "exclude",
    "return",
    "respond",
    "write",
    "read",
    "check",
    "verify",
    "confirm",
    "explain",
    "describe",
    "classify",
    "extract",
    "summarize",
    "translate",
    "rewrite",
    "shorten",
    "expand",
    "quote",
    "cite",
    "mention",
    "avoid",
    "keep",
    "short",
    "concise",
    "friendly",
    "polite",
    "formal",
    "clear",
    "specific",
    "exact",
    "brief",
    "detailed",
    "relevant",
    "helpful",
    "accurate",
    "safe",
    "private",
    "personal",
    "data",
    "email",
    "phone",
    "address",
    "name",
    "date",
    "time",
    "amount",
    "currency",
    "total",
    "tax",
    "discount",
    "product",
    "feature",
    "error",
    "outage",
    "integration",
    "performance",
    "login",
    "password",
    "permission",
    "user",
    "team",
    "admin",
    "owner",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "has",
    "have",
    "had",
    "will",
    "would",
    "could",
    "to",
    "of",
    "in",
    "on",
    "at",
    "by",
    "for",
    "with",
    "from",
    "into",
    "about",
    "over",
    "under",
    "after",
    "before",
    "between",
    "without",
    "within",
    "each",
    "every",
    "any",
    "some",
    "all",
    "none",
    "other",
    "same",
    "different",
    "new",
    "old",
]

# Prompt formats and their share of the generated files.
FORMAT_WEIGHTS = (("md", 40), ("txt", 20), ("j2", 25), ("yaml", 15))

CONFIG = """\
# Synthetic benchmark repository.
model = "gpt-4o-mini"
requests_per_month = 1_000_000
expected_output_tokens = 300
price_date = "2026-12-01"

[variables]
customer_name = "Dana"
customer_tier = "business"
product = "Acme Analytics"
ticket = "My invoice for March shows two charges for the Pro plan and I was only upgraded once."
documents = [
    { title = "Billing FAQ", text = "Proration creates a credit and a new charge on the same invoice." },
    { title = "Refund policy", text = "Duplicate charges are refunded in full within 5 business days." },
]
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "promptguard bench",
    "GIT_AUTHOR_EMAIL": "bench@promptguard.invalid",
    "GIT_COMMITTER_NAME": "promptguard bench",
    "GIT_COMMITTER_EMAIL": "bench@promptguard.invalid",
    "GIT_AUTHOR_DATE": "2026-11-02T10:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-11-02T10:00:00+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(6, 22))
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random, min_chars: int) -> str:
    parts: list[str] = []
    length = 0
    while length < min_chars:
        part = sentence(rng)
        parts.append(part)
        length += len(part) + 1
    return " ".join(parts)


def prose(rng: random.Random, size: int) -> str:
    """Return Markdown-like prose of about `size` characters: headings, paragraphs and bullet lists."""
    blocks: list[str] = []
    length = 0
    while length < size:
        roll = rng.random()
        if roll < 0.15:
            block = "## " + " ".join(rng.choices(WORDS, k=3)).title()
        elif roll < 0.35:
            block = "\n".join("- " + sentence(rng) for _ in range(rng.randint(2, 5)))
        else:
            block = paragraph(rng, rng.randint(150, 500))
        blocks.append(block)
        length += len(block) + 2
    return "\n\n".join(blocks) + "\n"


def prompt_size(rng: random.Random) -> int:
    """Draw a prompt size in characters: log-normal, median about 1.6 KB, clipped to 200 B..24 KB."""
    return int(min(24_000, max(200, rng.lognormvariate(7.4, 0.8))))


def render_file(kind: str, rng: random.Random, size: int) -> str:
    """Return the text of one prompt file of format `kind` ("md", "txt", "j2" or "yaml")."""
    if kind in ("md", "txt"):
        return prose(rng, size)
    if kind == "j2":
        return (
            "You answer tickets for {{ product }}. The customer is {{ customer_name }} ({{ customer_tier }}).\n\n"
            + prose(rng, size)
            + "\nRelevant articles:\n{% for doc in documents %}\n### {{ doc.title }}\n{{ doc.text }}\n{% endfor %}\n"
            + 'Ticket:\n"""\n{{ ticket }}\n"""\n'
        )
    system = prose(rng, size * 3 // 4)
    user = prose(rng, max(100, size // 4))
    return (
        "messages:\n"
        "  - role: system\n    content: |\n" + _indent(system) + "  - role: user\n    content: |\n"
        "      Customer {{ customer_name }} asks about {{ product }}.\n" + _indent(user)
    )


def _indent(text: str) -> str:
    return "".join(("      " + line if line else "") + "\n" for line in text.splitlines())


def edit_file(kind: str, text: str, rng: random.Random) -> str:
    """Return `text` with a realistic edit: a paragraph inserted before the end, or one line reworded."""
    lines = text.splitlines(keepends=True)
    if rng.random() < 0.5 and len(lines) > 2:
        index = rng.randrange(1, len(lines))
        if kind == "yaml":
            # Keep the edit inside a block scalar, whose lines are all indented.
            while index < len(lines) and not lines[index].startswith("      "):
                index += 1
            new_line = "      " + sentence(rng) + "\n"
        else:
            new_line = sentence(rng) + "\n"
        lines.insert(index, new_line)
        return "".join(lines)
    addition = paragraph(rng, rng.randint(200, 800))
    if kind == "yaml":
        return text + _indent(addition)
    return text + "\n" + addition + "\n"


def git(directory: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=directory, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=True
    )
    return result.stdout


def build_repository(directory: Path, prompts: int, changed: int, seed: int = 0) -> tuple[str, str]:
    """Create a repository of `prompts` prompt files in two commits, the second editing `changed` of them.

    Returns the commit ids of the base and head commits.
    """
    if changed > prompts:
        raise ValueError(f"changed ({changed}) must not exceed prompts ({prompts})")
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    git(directory, "init", "--quiet", "--initial-branch=main")
    git(directory, "config", "commit.gpgsign", "false")
    (directory / "promptguard.toml").write_text(CONFIG, encoding="utf-8")

    kinds = [kind for kind, _ in FORMAT_WEIGHTS]
    weights = [weight for _, weight in FORMAT_WEIGHTS]
    files: list[tuple[str, Path]] = []
    for number in range(prompts):
        kind = rng.choices(kinds, weights)[0]
        path = directory / "prompts" / f"team{number % 25:02d}" / f"prompt{number:05d}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_file(kind, rng, prompt_size(rng)), encoding="utf-8")
        files.append((kind, path))
    git(directory, "add", "--all")
    git(directory, "commit", "--quiet", "-m", "Add prompts")
    base = git(directory, "rev-parse", "HEAD").strip()

    for kind, path in rng.sample(files, changed):
        path.write_text(edit_file(kind, path.read_text(encoding="utf-8"), rng), encoding="utf-8")
    git(directory, "add", "--all")
    git(directory, "commit", "--quiet", "--allow-empty", "-m", "Edit prompts")
    head = git(directory, "rev-parse", "HEAD").strip()
    return base, head


def stage_one_change(directory: Path, seed: int = 0) -> str:
    """Edit one prompt of a repository built by `build_repository` and stage it; return its path."""
    rng = random.Random(seed + 1)
    paths = sorted(str(path.relative_to(directory)) for path in (directory / "prompts").rglob("*.md"))
    relative = rng.choice(paths)
    path = directory / relative
    path.write_text(edit_file("md", path.read_text(encoding="utf-8"), rng), encoding="utf-8")
    git(directory, "add", "--", relative)
    return relative


def fixture_record(rng: random.Random) -> dict[str, object]:
    """Return one record of promptguard's JSONL fixture format, shaped like a triage call."""
    category = rng.choice(("billing", "technical", "account", "other"))
    output = json.dumps(
        {"category": category, "priority": rng.choice(("low", "normal", "urgent")), "summary": sentence(rng)}
    )
    failed = rng.random() < 0.02
    return {
        "variables": {"ticket": sentence(rng), "customer_tier": rng.choice(("free", "team", "business"))},
        "output": None if failed else output,
        "usage": {"input_tokens": rng.randint(600, 1400), "output_tokens": 0 if failed else rng.randint(30, 90)},
        "model": "gpt-4o",
        "finish_reason": "stop",
        "status": 500 if failed else 200,
        "latency_ms": round(rng.uniform(300, 2500), 1),
    }


def write_fixtures(path: Path, records: int, seed: int = 0) -> None:
    """Write `records` fixture records to `path`, one JSON object per line.

    A pool of 1,000 distinct records is cycled so that a million lines take
    seconds to write; the reader still parses and validates every line.
    """
    rng = random.Random(seed)
    pool = [json.dumps(fixture_record(rng), separators=(",", ":")) + "\n" for _ in range(1000)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for start in range(0, records, len(pool)):
            stream.writelines(pool[: min(len(pool), records - start)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path, help="Directory to create the repository in (must not exist).")
    parser.add_argument("--prompts", type=int, default=2000, help="Number of prompt files.")
    parser.add_argument("--changed", type=int, default=200, help="Number of prompts the second commit edits.")
    parser.add_argument("--fixtures", type=int, default=0, help="Also write fixtures/x.jsonl with this many records.")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    if options.directory.exists():
        parser.error(f"{options.directory} already exists; pass a new directory")
    base, head = build_repository(options.directory, options.prompts, options.changed, options.seed)
    if options.fixtures:
        write_fixtures(options.directory / "fixtures" / "x.jsonl", options.fixtures, options.seed)
    print(f"base {base}\nhead {head}")


if __name__ == "__main__":
    main()
