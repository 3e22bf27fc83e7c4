"""Untrusted input from a pull request: templates, paths, YAML, broken files, Markdown in names.

Each case ends in exit 2 with one line naming the file and the fix, or in a
correct figure (checked against tiktoken itself) with at most a warning.
Never a traceback, a crash log or content from outside the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import promptguard.sandbox
from promptguard.errors import PromptguardError
from promptguard.formats import render_prompt
from tests.conftest import GitRepo

CONFIG = 'model = "gpt-4o"\nprice_date = "2026-12-01"\n\n[[prompts]]\npath = "prompts/*"\n'


def assert_clean_error(result: Any, *fragments: str) -> str:
    """Assert exit 2 with one stderr line containing every fragment; return that line."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "crashed" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def render_error(template: str, **kwargs: Any) -> str:
    """Render a Jinja2 template that must fail; return the error text."""
    with pytest.raises(PromptguardError) as caught:
        render_prompt(template.encode(), "prompts/evil.j2", include_reader=lambda name: None, **kwargs)
    return str(caught.value)


def json_report(result: Any) -> dict[str, Any]:
    assert result.exit_code in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def prompt_entry(document: dict[str, Any], path: str) -> dict[str, Any]:
    entries = [prompt for prompt in document["prompts"] if prompt["path"] == path]
    assert len(entries) == 1, [prompt["path"] for prompt in document["prompts"]]
    return entries[0]


@pytest.fixture
def committed(repo: GitRepo) -> GitRepo:
    repo.write("promptguard.toml", CONFIG)
    repo.write("prompts/a.md", "A prompt.\n")
    repo.commit("base")
    return repo


# Server-side template injection: each reaches for Python internals and is blocked.
SSTI_TEMPLATES = {
    "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "self_globals": "{{ self.__init__.__globals__ }}",
    "self_context": "{{ self._TemplateReference__context }}",
    "cycler_os": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner_globals": "{{ joiner.__init__.__globals__ }}",
    "namespace_globals": "{{ namespace.__init__.__globals__ }}",
    "lipsum_globals": "{{ lipsum.__globals__['os'] }}",
    "attr_filter": "{{ ''|attr('__class__') }}",
    "format_field": "{{ '{0.__class__}'.format('') }}",
    "dict_mutation": "{% set d = {} %}{{ d.update({'a': 1}) }}",
}


@pytest.mark.parametrize("template", SSTI_TEMPLATES.values(), ids=SSTI_TEMPLATES.keys())
def test_sandbox_blocks_internals(template: str) -> None:
    message = render_error(template)
    assert message.startswith("prompts/evil.j2:1: template blocked by the sandbox"), message
    assert "remove access to internal attributes" in message


def test_flask_config_is_undefined() -> None:
    message = render_error("{{ config.items() }}")
    assert "prompts/evil.j2:1: undefined variable 'config'" in message


# Work that Python would do in one step, before the output-size check could see it.
BUDGET_TEMPLATES = {
    "string_repeat": ("{{ 'a' * 10**9 }}", "repeating a sequence"),
    "list_repeat": ("{{ ([1] * 100000000)|length }}", "repeating a sequence"),
    "huge_power": ("{{ 9 ** 99999999 }}", "the power 9 ** 99999999"),
    "lipsum_paragraphs": ("{{ lipsum(n=100000000) }}", "lipsum(100000000)"),
    "center_filter": ("{{ 'a'|center(10**9) }}", "the center filter"),
    "center_method": ("{{ 'a'.center(10**9) }}", "str.center"),
    "indent_filter": ("{{ 'a\nb'|indent(10**9) }}", "the indent filter"),
    "replace_filter": ("{{ ('a' * 1000)|replace('a', 'a' * 1000000) }}", "the replace filter"),
    "join_filter": ("{{ range(100000)|join('a' * 4000000) }}", "the join filter"),
    "printf_width": ("{{ '%0999999999d'|format(1) }}", "a format field"),
    "percent_width": ("{{ '%.99999999f' % 1 }}", "a format field"),
    "format_width": ("{{ '{:>999999999}'.format(1) }}", "a format field"),
    "wordwrap_string": ("{{ 'a b c'|wordwrap(1, wrapstring='x' * 5000000) }}", "the wordwrap filter"),
    "output_size": ("{% for i in range(100000) %}{{ 'a' * 100 }}{% endfor %}", "output exceeds 5,000,000"),
}


# Where each case is stopped. Two stop outside template code, so no line is
# known: Jinja2 folds the constant expression while compiling, and the caller
# checks the output size. The indent filter is applied on line 2, after the
# newline inside the string literal.
BUDGET_LOCATIONS = {
    "printf_width": "prompts/evil.j2",
    "output_size": "prompts/evil.j2",
    "indent_filter": "prompts/evil.j2:2",
}


@pytest.mark.parametrize(("case", "template", "reason"), [(case, *v) for case, v in BUDGET_TEMPLATES.items()])
def test_render_budget_stops_template(case: str, template: str, reason: str) -> None:
    message = render_error(template)
    location = BUDGET_LOCATIONS.get(case, "prompts/evil.j2:1")
    assert message.startswith(f"{location}: template exceeds the render budget"), message
    assert reason in message
    assert "check loops, repetition and recursive macros" in message


def test_range_over_limit_rejected() -> None:
    message = render_error("{% for i in range(10**9) %}{% endfor %}x")
    assert "prompts/evil.j2:1: template failed to render" in message
    assert "Range too big" in message


def test_recursive_macro_rejected() -> None:
    message = render_error("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}")
    assert message == "prompts/evil.j2: template recursion is too deep (check recursive macros and includes)"


@pytest.mark.parametrize(
    "template",
    [
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}done",
        "{% set s = 'a' * 4000000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}done",
    ],
    ids=["nested_ranges", "nested_string_loops"],
)
def test_silent_loops_hit_deadline(template: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promptguard.sandbox, "MAX_RENDER_SECONDS", 0.2)
    message = render_error(template)
    assert "template exceeds the render budget: rendering took over 0.2 s" in message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% set ns = namespace(n=0) %}{% for x in [1, 2] %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", "3"),
        (
            "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{% set j = joiner('+') %}{{ j() }}x{{ j() }}y",
            "abx+y",
        ),
        ("{{ '%05d'|format(7) }} {{ '-' * 3 }} {{ 2 ** 10 }} {{ 'ab'|center(4) }}", "00007 --- 1024  ab "),
        ("{{ 'Call 5551234567 about %s' % 'it' }}", "Call 5551234567 about it"),
        ("{% for a in 'ab' %}{{ loop.index }}/{{ loop.length }}{% else %}none{% endfor %}", "1/22/2"),
        ("{% for x in [[1, [2]], 3] recursive %}{{ x if x is number else loop(x) }}{% endfor %}", "123"),
    ],
    ids=["namespace", "cycler_joiner", "small_sizes", "digits_not_width", "loop_context", "recursive_loop"],
)
def test_budget_allows_ordinary_templates(template: str, expected: str) -> None:
    rendered = render_prompt(template.encode(), "prompts/ok.j2")
    assert rendered.messages[0].content == expected


def test_sandbox_error_names_file_in_cli(committed: GitRepo, run_cli: Any) -> None:
    committed.write("prompts/evil.j2", "{{ cycler.__init__.__globals__.os.popen('id').read() }}\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "prompts/evil.j2:1: template blocked by the sandbox", "__init__")


# Paths from the configuration and from templates stay inside the repository.


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ('path = "../outside.md"', ("prompt path '../outside.md' points outside the repository", "'..'")),
        ('path = "/etc/passwd"', ("prompt path '/etc/passwd' is an absolute path", "relative to the repository root")),
        ('path = "prompts/../../x/*.md"', ("points outside the repository",)),
        ('path = "C:\\\\Windows\\\\x.md"', ("is an absolute path",)),
        ('path = "prompts/a.md"\nfixtures = "../fixtures.jsonl"', ("fixtures '../fixtures.jsonl' points outside",)),
        ('path = "prompts/a.md"\nfixtures = "/etc/passwd"', ("fixtures '/etc/passwd' is an absolute path",)),
        (
            'path = "prompts/a.md"\nfixtures = "f.jsonl"\noutput_schema = "../../etc/passwd"',
            ("output_schema '../../etc/passwd' points outside",),
        ),
    ],
    ids=[
        "dotdot",
        "absolute",
        "dotdot_inside_glob",
        "windows_absolute",
        "fixtures_dotdot",
        "fixtures_absolute",
        "schema_dotdot",
    ],
)
def test_config_paths_contained(committed: GitRepo, run_cli: Any, entry: str, fragments: tuple[str, ...]) -> None:
    committed.write("f.jsonl", '{"output": "ok", "usage": {"input_tokens": 5, "output_tokens": 2}}\n')
    committed.write("promptguard.toml", f'model = "gpt-4o"\nprice_date = "2026-12-01"\n\n[[prompts]]\n{entry}\n')
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, *fragments)


@pytest.mark.parametrize(
    ("include", "fragment"),
    [
        ("../../etc/passwd", "../../etc/passwd' points outside the repository"),
        ("/etc/passwd", "included template '/etc/passwd' is an absolute path"),
        ("missing.j2", "included template 'missing.j2' not found in the repository"),
    ],
    ids=["dotdot", "absolute", "missing"],
)
def test_include_stays_inside(committed: GitRepo, run_cli: Any, include: str, fragment: str) -> None:
    committed.write("prompts/inc.j2", f"Intro\n{{% include '{include}' %}}\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    line = assert_clean_error(result, "prompts/inc.j2", fragment)
    assert "root:" not in line


def test_include_inside_is_counted(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    committed.write("prompts/parts/footer.txt", "Reply in English.")
    committed.write("prompts/main.j2", "Intro. {% include 'parts/footer.txt' %}")
    committed.write("promptguard.toml", CONFIG.replace('"prompts/*"', '"prompts/*.j2"'))
    result = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "json"], committed.root)
    entry = prompt_entry(json_report(result), "prompts/main.j2")
    expected = len(reference_encoding("o200k_base").encode("Intro. Reply in English.")) + 6
    assert entry["head"]["input_tokens"] == expected


@pytest.mark.parametrize("mode", ["--worktree", "--staged", "commit"])
def test_symlink_out_of_repo_not_followed(
    committed: GitRepo, run_cli: Any, reference_encoding: Any, tmp_path: Path, mode: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE " * 50)
    os.symlink(secret, committed.root / "prompts" / "link.md")
    committed.git("add", "--all")
    args = ["check", "--base", "HEAD", "--format", "json"]
    if mode == "commit":
        committed.commit("add link")
        args = ["check", "--base", "HEAD~1", "--format", "json"]
    else:
        args.append(mode)
    result = run_cli(args, committed.root)
    assert "TOP-SECRET" not in result.stdout + result.stderr
    entry = prompt_entry(json_report(result), "prompts/link.md")
    # Git stores a symbolic link as its target path, and that text is what gets counted.
    assert entry["head"]["input_tokens"] == len(reference_encoding("o200k_base").encode(str(secret))) + 6


def test_remote_schema_ref_never_fetched(committed: GitRepo, run_cli: Any) -> None:
    committed.write("f.jsonl", '{"output": "{}", "usage": {"input_tokens": 5, "output_tokens": 2}}\n')
    committed.write("schema.json", json.dumps({"$ref": "https://schemas.example.com/triage.json"}))
    committed.write(
        "promptguard.toml",
        CONFIG + 'fixtures = "f.jsonl"\noutput_schema = "schema.json"\n',
    )
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    # The suite's socket guard turns any connection or DNS lookup into a crash, so exit 2 proves none happened.
    assert_clean_error(result, "'https://schemas.example.com/triage.json'", "promptguard never fetches schemas")


@pytest.mark.parametrize("reference", ["file:///etc/passwd", "other.json#/defs/x", "../../etc/passwd"])
def test_schema_file_refs_rejected(committed: GitRepo, run_cli: Any, reference: str) -> None:
    committed.write("f.jsonl", '{"output": "{}", "usage": {"input_tokens": 5, "output_tokens": 2}}\n')
    committed.write("schema.json", json.dumps({"properties": {"a": {"$ref": reference}}}))
    committed.write("promptguard.toml", CONFIG + 'fixtures = "f.jsonl"\noutput_schema = "schema.json"\n')
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    line = assert_clean_error(result, "outside the schema file")
    assert "root:" not in line


# YAML limits.


def alias_bomb(indent: str = "") -> str:
    """Return YAML of 81 aliases in 9 levels: 9**9 items once expanded, shared in memory until printed."""
    lines = [f"{indent}a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{indent}{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


MANY_ALIASES = "base: &base x\nlist: [" + ", ".join(["*base"] * 1001) + "]\nmessages: [{role: system, content: hi}]\n"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (MANY_ALIASES, ("prompts/bomb.yaml:2", "more than 1000 YAML aliases")),
        ("messages:\n" + "- " * 500 + "x\n", ("prompts/bomb.yaml:", "nested deeper than 100 levels")),
        ("- !!python/object/apply:os.system ['id']\n", ("prompts/bomb.yaml:1", "could not determine a constructor")),
        ("- role: system\n  content: [unclosed\n", ("prompts/bomb.yaml:3", "invalid YAML")),
    ],
    ids=["alias_bomb", "deep_nesting", "python_tag", "syntax"],
)
def test_yaml_limits(committed: GitRepo, run_cli: Any, content: str, fragments: tuple[str, ...]) -> None:
    committed.write("prompts/bomb.yaml", content)
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, *fragments)


def test_alias_bomb_printed_by_template() -> None:
    prompty = f"---\nsample:\n{alias_bomb('  ')}---\nsystem:\n{{{{ i }}}}\n"
    with pytest.raises(PromptguardError) as caught:
        render_prompt(prompty.encode(), "prompts/bomb.prompty")
    message = str(caught.value)
    # The front matter is rejected while it loads, before the template could print it.
    assert message.startswith("prompts/bomb.prompty: YAML aliases expand to more than 1,000,000 nodes"), message


def test_alias_expansion_rejected_by_loader() -> None:
    from promptguard.safeyaml import load_yaml

    with pytest.raises(PromptguardError):
        load_yaml(alias_bomb(), "prompts/bomb.yaml")


def test_yaml_over_size_limit() -> None:
    data = b"- role: system\n  content: '" + b"a" * (10 * 1024 * 1024) + b"'\n"
    with pytest.raises(PromptguardError) as caught:
        render_prompt(data, "prompts/big.yaml")
    assert str(caught.value) == "prompts/big.yaml: YAML file is larger than 10 MiB (split or shrink it)"


# Broken or unusual prompt files.


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        ("c.json", b'[{"role": "system",\n "content": }]', ("prompts/c.json:2", "invalid JSON", "fix the JSON syntax")),
        ("c.json", b"", ("prompts/c.json:1", "invalid JSON")),
        ("c.yaml", b"", ("prompts/c.yaml", "expected a list of chat messages")),
        ("c.yaml", b"- role: 5\n  content: x\n", ("prompts/c.yaml", "message 0 has no string 'role'")),
        ("c.yaml", b"- role: system\n  content: 5\n", ("prompts/c.yaml", "content must be a string")),
        ("c.yaml", b"- role: system\n  content: caf\xe9\n", ("prompts/c.yaml:2", "invalid UTF-8")),
        ("c.yaml", b"- role: system\n  content: \xed\xa0\x80\n", ("prompts/c.yaml:2", "invalid UTF-8")),
        ("c.prompty", b"---\nsample: [\n---\nsystem:\nhi\n", ("prompts/c.prompty:3", "invalid YAML")),
        ("c.prompty", b"---\nname: x\n", ("prompts/c.prompty:1", "front matter opened with '---' is never closed")),
        ("n.md", b"text\x00more", ("prompts/n.md", "NUL bytes")),
    ],
    ids=[
        "json_syntax",
        "json_empty",
        "yaml_empty",
        "role_not_string",
        "content_not_string",
        "yaml_invalid_utf8",
        "encoded_surrogate",
        "prompty_front_matter",
        "prompty_unclosed",
        "nul_byte",
    ],
)
def test_broken_prompt_file(
    committed: GitRepo, run_cli: Any, name: str, content: bytes, fragments: tuple[str, ...]
) -> None:
    committed.write(f"prompts/{name}", content)
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, *fragments)


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"\xef\xbb\xbfHello there.\n", "Hello there.\n"),
        (b"line one\r\nline two\r\n", "line one\nline two\n"),
        (b"", ""),
        (b"<|endoftext|> is text", "<|endoftext|> is text"),
    ],
    ids=["bom", "crlf", "empty", "special_token_text"],
)
def test_unusual_text_counted_exactly(
    committed: GitRepo, run_cli: Any, reference_encoding: Any, content: bytes, text: str
) -> None:
    committed.write("prompts/odd.txt", content)
    result = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "json"], committed.root)
    entry = prompt_entry(json_report(result), "prompts/odd.txt")
    expected = len(reference_encoding("o200k_base").encode(text, disallowed_special=())) + 6
    assert entry["head"]["input_tokens"] == expected


def test_lone_surrogate_escape_counted(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    committed.write("prompts/s.json", '[{"role": "system", "content": "hi \\ud800 there"}]')
    result = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "json"], committed.root)
    entry = prompt_entry(json_report(result), "prompts/s.json")
    # tiktoken replaces a lone surrogate with U+FFFD before encoding.
    expected = len(reference_encoding("o200k_base").encode("hi \ufffd there")) + 6
    assert entry["head"]["input_tokens"] == expected


# Broken configuration beyond the cases in test_bad_input.py.


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b'model = "gpt-4o"\x00\n', ("promptguard.toml", "invalid TOML")),
        (b'model = "caf\xe9"\n', ("promptguard.toml", "not valid UTF-8 (byte 12)", "save it as UTF-8")),
        (b'prompts = "prompts/*"\n', ("promptguard.toml:1", '"prompts/*"', "prompts", "expected array")),
        (b'[[prompts]]\nmodel = "gpt-4o"\n', ("promptguard.toml", "'path' is a required property", "add the key")),
        (b'variables = { s = "\\ud800" }\n', ("promptguard.toml:1", "invalid TOML")),
        (b"requests_per_month = -5\n", ("promptguard.toml:1", "-5", "requests_per_month")),
        (b'[pricing."my-model"]\ninput_per_million = 1.0\n', ("promptguard.toml", "output_per_million", "add the key")),
        (
            b'model = "gpt-4o"\nfallback_model = "gpt-4o-mni"\n[[prompts]]\npath = "prompts/*"\nfixtures = "f.jsonl"\n',
            ("unknown model 'gpt-4o-mni'",),
        ),
    ],
    ids=[
        "nul",
        "invalid_utf8",
        "prompts_not_array",
        "prompt_without_path",
        "surrogate_escape",
        "negative_traffic",
        "price_missing_rate",
        "unknown_fallback",
    ],
)
def test_broken_config(committed: GitRepo, run_cli: Any, content: bytes, fragments: tuple[str, ...]) -> None:
    committed.write("f.jsonl", '{"output": "ok", "usage": {"input_tokens": 5, "output_tokens": 2}}\n')
    committed.write("promptguard.toml", content)
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, *fragments)


def test_empty_config_uses_defaults(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    committed.write("promptguard.toml", "")
    committed.write("prompts/x.md", "Default settings apply.")
    result = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "json"], committed.root)
    entry = prompt_entry(json_report(result), "prompts/x.md")
    assert entry["model"] == "gpt-4o-mini"
    assert entry["head"]["input_tokens"] == len(reference_encoding("o200k_base").encode("Default settings apply.")) + 6


def test_config_symlink_outside_rejected(committed: GitRepo, run_cli: Any, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text('model = "gpt-4o"\n')
    (committed.root / "promptguard.toml").unlink()
    os.symlink(outside, committed.root / "promptguard.toml")
    result = run_cli(["check", "--base", "HEAD", "--worktree"], committed.root)
    assert_clean_error(result, "outside the repository")


# Markdown and HTML in file names and fixture outputs cannot shape the report.

HOSTILE_NAMES = [
    "prompts/</details><img src=x onerror=alert(1)>.md",
    "prompts/@octo-org team [click](https:evil.example) .md",
    "prompts/pipe | cell --> <!-- x.md",
    "prompts/`code` *bold* _em_ ~~s~~ $x$.md",
    "prompts/www.evil.example.md",
]


def test_markdown_report_escapes_names(committed: GitRepo, run_cli: Any) -> None:
    for name in HOSTILE_NAMES:
        committed.write(name, "Prompt text with @octo-org/team and </details> inside.\n")
    result = run_cli(["check", "--base", "HEAD", "--worktree", "--format", "markdown"], committed.root)
    assert result.exit_code == 0, result.stderr
    report = result.stdout
    assert "<img" not in report
    assert "<!--" not in report
    assert "@octo-org" not in report
    assert "](https" not in report
    assert "www.evil" not in report
    assert report.count("<details>") == report.count("</details>")
    # Template text is never copied into the report.
    assert "Prompt text with" not in report
    # Every unescaped pipe is a column border, so a name that added one would change a row's count.
    for table in report.split("\n\n"):
        rows = [line for line in table.splitlines() if line.startswith("|")]
        borders = {line.replace("\\|", "").count("|") for line in rows}
        assert len(borders) <= 1, table


def test_file_names_starting_with_dash(committed: GitRepo, run_cli: Any, reference_encoding: Any) -> None:
    committed.write("prompts/--upload-pack=touch pwned.md", "Dash one.")
    committed.write("prompts/-c core.sshCommand=x.md", "Dash two.")
    committed.commit("dash names")
    result = run_cli(["check", "--base", "HEAD~1", "--format", "json"], committed.root)
    document = json_report(result)
    encode = reference_encoding("o200k_base").encode
    assert (
        prompt_entry(document, "prompts/--upload-pack=touch pwned.md")["head"]["input_tokens"]
        == len(encode("Dash one.")) + 6
    )
    assert (
        prompt_entry(document, "prompts/-c core.sshCommand=x.md")["head"]["input_tokens"]
        == len(encode("Dash two.")) + 6
    )
    assert not (committed.root / "pwned").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--head=--output=/tmp/x"],
        ["--base", "HEAD\n--upload-pack=x"],
        ["--base", " HEAD"],
        ["--base", ""],
    ],
    ids=["head_dash", "newline", "leading_space", "empty"],
)
def test_unsafe_refs_rejected(committed: GitRepo, run_cli: Any, args: list[str]) -> None:
    result = run_cli(["check", *args], committed.root)
    assert_clean_error(result, "invalid revision")
