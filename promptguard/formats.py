"""Prompt formats: turn a prompt file into the chat messages sent to the model.

Supported: plain text and Markdown (one message), Jinja2 templates, chat
messages as JSON or YAML, Prompty files, and prompts embedded in YAML or JSON
files under a dotted key path. Templates come from pull requests, so Jinja2
always runs in the sandbox of `promptguard.sandbox`, with a render budget.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptguard.errors import PromptFormatError, PromptguardError, UndefinedVariableError
from promptguard.safeyaml import load_yaml
from promptguard.tokenizers import Message

if TYPE_CHECKING:
    from promptguard.sandbox import BudgetedSandbox

JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".prompt", ".text")
DATA_SUFFIXES = (".json", ".yaml", ".yml")

_JINJA_SYNTAX = re.compile(r"\{\{|\{%")
# The start of a Jinja2 statement that reads another template, with or without whitespace control.
TEMPLATE_READ_STATEMENT = r"\{%[-+]?\s*(?:include|import|from|extends)\b"
_PROMPTY_ROLE = re.compile(r"^\s*(system|user|assistant|developer|tool)\s*:\s*$", re.IGNORECASE | re.MULTILINE)

# Reads another file of the same revision for `{% include %}`; None if absent.
IncludeReader = Callable[[str], str | None]


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt as sent: its messages, and the decoded template text the diff works on."""

    messages: tuple[Message, ...]
    source_text: str
    format: str


def decode_prompt(data: bytes, path: str) -> str:
    """Decode prompt bytes as UTF-8 (a BOM is dropped, CRLF becomes LF), rejecting binary files."""
    if b"\0" in data:
        raise PromptFormatError(
            "file contains NUL bytes (binary?)",
            location=path,
            fix="exclude it from the prompt globs, or save the prompt as UTF-8 text",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise PromptFormatError(
            f"invalid UTF-8 at byte {error.start}", location=f"{path}:{line}", fix="save the prompt as UTF-8"
        ) from error
    # Applications read prompts in text mode, which turns CRLF into LF.
    return text.replace("\r\n", "\n")


def detect_format(path: str, configured: str | None, key: str | None) -> str:
    """Choose the format from the configuration, else the file suffix."""
    if configured:
        return configured
    lowered = path.lower()
    if key:
        return "embedded"
    if lowered.endswith(JINJA_SUFFIXES):
        return "jinja2"
    if lowered.endswith(".prompty"):
        return "prompty"
    if lowered.endswith(DATA_SUFFIXES):
        return "chat"
    if lowered.endswith((".md", ".markdown")):
        return "markdown"
    return "text"


def render_prompt(
    data: bytes,
    path: str,
    *,
    format: str | None = None,
    key: str | None = None,
    role: str = "system",
    variables: Mapping[str, Any] | None = None,
    include_reader: IncludeReader | None = None,
    config_name: str | None = None,
) -> RenderedPrompt:
    """Decode and render one prompt file into messages.

    `config_name`, the configuration file that sets the prompt's variables,
    is named in the fix of an undefined variable (default promptguard.toml).
    """
    try:
        return _render_prompt(data, path, format, key, role, variables or {}, include_reader)
    except UndefinedVariableError as error:
        if config_name is not None:
            error.name_configuration(config_name)
        raise


def _render_prompt(
    data: bytes,
    path: str,
    format: str | None,
    key: str | None,
    role: str,
    variables: Mapping[str, Any],
    include_reader: IncludeReader | None,
) -> RenderedPrompt:
    text = decode_prompt(data, path)
    kind = detect_format(path, format, key)

    if kind in ("text", "markdown"):
        messages: tuple[Message, ...] = (Message(role, text),)
    elif kind == "jinja2":
        messages = (Message(role, render_template(text, path, variables, include_reader)),)
    elif kind == "chat":
        messages = _chat_messages(_parse_data(text, path), path, variables, include_reader)
    elif kind == "prompty":
        messages = _prompty_messages(text, path, variables, include_reader)
    elif kind == "embedded":
        if not key:
            raise PromptFormatError("format 'embedded' needs a key path", location=path, fix='set key = "a.b.c"')
        value = _lookup_key(_parse_data(text, path), key, path)
        if isinstance(value, str):
            messages = (Message(role, _maybe_render(value, path, variables, include_reader)),)
        else:
            messages = _chat_messages(value, path, variables, include_reader)
    else:
        raise PromptFormatError(
            f"unknown format {kind!r}", location=path, fix="use text, markdown, jinja2, chat, prompty or embedded"
        )
    return RenderedPrompt(messages, text, kind)


def _sandbox(include_reader: IncludeReader | None) -> BudgetedSandbox:
    import jinja2

    from promptguard.sandbox import BudgetedSandbox

    def load(name: str) -> str | None:
        if include_reader is None:
            return None
        return include_reader(name)

    return BudgetedSandbox(
        undefined=jinja2.StrictUndefined,
        loader=jinja2.FunctionLoader(load),
        autoescape=False,
        keep_trailing_newline=True,
    )


def render_template(
    text: str,
    path: str,
    variables: Mapping[str, Any],
    include_reader: IncludeReader | None = None,
    first_line: int | None = 1,
) -> str:
    """Render a Jinja2 template in the sandbox, turning every failure into a PromptFormatError.

    `first_line` is the line of `path` where the template starts, or None for
    a template taken from a YAML or JSON value, whose lines are not the file's.
    Errors raised while rendering then name the template line as `path:line`.
    """
    import jinja2
    from jinja2.exceptions import SecurityError

    from promptguard.sandbox import MAX_RENDER_CHARS, RenderBudgetExceeded

    environment = _sandbox(include_reader)
    try:
        # Compiling takes time linear in the template's size; rendering has no such bound.
        template = environment.from_string(text)
        environment.start_clock()
        pieces: list[str] = []
        size = 0
        for piece in template.generate(**variables):
            pieces.append(piece)
            size += len(piece)
            if size > MAX_RENDER_CHARS:
                raise RenderBudgetExceeded(f"template output exceeds {MAX_RENDER_CHARS:,} characters")
        return "".join(pieces)
    except PromptguardError as error:
        # Raised by the include reader, for example for an include path that leaves the repository.
        if error.location is None:
            error.location = path
        raise
    except RenderBudgetExceeded as error:
        raise PromptFormatError(
            f"template exceeds the render budget: {error}",
            location=_render_location(path, error, first_line),
            fix="check loops, repetition and recursive macros in the template",
        ) from None
    except jinja2.TemplateSyntaxError as error:
        where = error.name if error.name and error.name != "<template>" else path
        raise PromptFormatError(
            f"template syntax error: {error.message}", location=f"{where}:{error.lineno}", fix="fix the Jinja2 syntax"
        ) from error
    except jinja2.UndefinedError as error:
        name = re.search(r"'([^']+)' is undefined", str(error))
        location = _render_location(path, error, first_line)
        if name is None:
            # A missing attribute or key of a value, for example a macro that an imported template lacks.
            raise PromptFormatError(
                f"template failed to render: {error}",
                location=location,
                fix="check the attribute and macro names the template uses against the values and templates it reads",
            ) from error
        raise UndefinedVariableError(name.group(1), location=location) from error
    except SecurityError as error:
        raise PromptFormatError(
            f"template blocked by the sandbox: {error}",
            location=_render_location(path, error, first_line),
            fix="remove access to internal attributes",
        ) from error
    except jinja2.TemplateNotFound as error:
        raise PromptFormatError(
            f"included template {error.name!r} not found in the repository", location=path, fix="check the include path"
        ) from error
    except RecursionError as error:
        raise PromptFormatError(
            "template recursion is too deep", location=path, fix="check recursive macros and includes"
        ) from error
    except (TypeError, ValueError, ArithmeticError, AttributeError, LookupError, OverflowError) as error:
        raise PromptFormatError(
            f"template failed to render: {type(error).__name__}: {error}",
            location=_render_location(path, error, first_line),
            fix="check the variables given in promptguard.toml against what the template uses",
        ) from error


def _render_location(path: str, error: BaseException, first_line: int | None) -> str:
    """Return `path:line` for the template line that raised `error`, or `path` when the line is unknown.

    Jinja2 rewrites the traceback of an `Exception` so that frames of template
    code carry template lines, with "<template>" as the file name of a template
    made by `from_string`. A `BaseException` such as `RenderBudgetExceeded`
    keeps the frames of the generated Python code, whose lines the template
    maps back. Frames of included templates have a name and are skipped, so
    an error inside an include gets the line of the include.
    """
    if first_line is None:
        return path
    line = None
    trace = error.__traceback__
    while trace is not None:
        template = trace.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            if template.name is None:
                line = template.get_corresponding_lineno(trace.tb_lineno)
        elif trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return path if line is None else f"{path}:{first_line + line - 1}"


def _maybe_render(text: str, path: str, variables: Mapping[str, Any], include_reader: IncludeReader | None) -> str:
    if _JINJA_SYNTAX.search(text):
        return render_template(text, path, variables, include_reader, first_line=None)
    return text


def _parse_data(text: str, path: str) -> Any:
    if path.lower().endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise PromptFormatError(
                f"invalid JSON: {error.msg}", location=f"{path}:{error.lineno}", fix="fix the JSON syntax"
            ) from error
    return load_yaml(text, path)


def _content_text(content: Any, path: str, index: int) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    raise PromptFormatError(
        f"message {index}: content must be a string or a list of text parts",
        location=path,
        fix="write content as text",
    )


def _chat_messages(
    data: Any, path: str, variables: Mapping[str, Any], include_reader: IncludeReader | None
) -> tuple[Message, ...]:
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    if not isinstance(data, list) or not data:
        raise PromptFormatError(
            "expected a list of chat messages ([{role, content}] or {messages: [...]})",
            location=path,
            fix='write the prompt as chat messages, or set format = "text" for this file',
        )
    messages = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("role"), str):
            raise PromptFormatError(
                f"message {index} has no string 'role'", location=path, fix="give each message a role and content"
            )
        content = _content_text(item.get("content"), path, index)
        name = item.get("name")
        messages.append(
            Message(
                item["role"],
                _maybe_render(content, path, variables, include_reader),
                name if isinstance(name, str) else None,
            )
        )
    return tuple(messages)


def _prompty_messages(
    text: str, path: str, variables: Mapping[str, Any], include_reader: IncludeReader | None
) -> tuple[Message, ...]:
    front: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        parts = re.split(r"^---\s*$", text, maxsplit=2, flags=re.MULTILINE)
        if len(parts) < 3:
            raise PromptFormatError(
                "front matter opened with '---' is never closed", location=f"{path}:1", fix="close it with a '---' line"
            )
        loaded = load_yaml(parts[1], path)
        if loaded is not None and not isinstance(loaded, dict):
            raise PromptFormatError(
                "front matter must be a YAML mapping", location=f"{path}:1", fix="fix the front matter"
            )
        front = loaded or {}
        body = parts[2]

    # Prompty's `sample` gives example inputs; configured variables win.
    sample = front.get("sample")
    merged = {**(sample if isinstance(sample, dict) else {}), **variables}
    # The body begins on the closing '---' line, so its line numbers continue the file's.
    first_line = text[: len(text) - len(body)].count("\n") + 1
    rendered = render_template(body, path, merged, include_reader, first_line)

    markers = list(_PROMPTY_ROLE.finditer(rendered))
    if not markers:
        return (Message("system", rendered.strip()),)
    messages = []
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(rendered)
        content = rendered[marker.end() : end].strip()
        messages.append(Message(marker.group(1).lower(), content))
    return tuple(messages)


def _lookup_key(data: Any, key: str, path: str) -> Any:
    node = data
    walked: list[str] = []
    for step in key.split("."):
        walked.append(step)
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            available = ", ".join(sorted(map(str, node))[:10]) if isinstance(node, dict) else "none"
            raise PromptFormatError(
                f"key {'.'.join(walked)!r} not found",
                location=path,
                fix=f"check `key` in promptguard.toml; keys here: {available}",
            )
    if not isinstance(node, (str, list, dict)):
        raise PromptFormatError(
            f"key {key!r} contains a {type(node).__name__}, not a prompt", location=path, fix="point `key` at a string"
        )
    return node


def referenced_variables(source_text: str, format: str) -> frozenset[str] | None:
    """Return the template variables a prompt reads, or None when that cannot be known.

    Plain text and Markdown read none. A template that includes, imports or
    extends another file may read variables there, so it gives None, and so
    does a file that does not parse as a template.
    """
    if format in ("text", "markdown"):
        return frozenset()
    if not _JINJA_SYNTAX.search(source_text):
        return frozenset()
    import jinja2
    from jinja2 import meta

    try:
        tree = jinja2.Environment().parse(source_text)
    except jinja2.TemplateError:
        return None
    if any(True for _ in meta.find_referenced_templates(tree)):
        return None
    return frozenset(meta.find_undeclared_variables(tree))
