"""The Jinja2 sandbox for untrusted templates, with a render budget of output size and wall time.

Jinja2's `ImmutableSandboxedEnvironment` blocks internal attributes, unsafe
callables and mutation of lists and dicts, and caps `range` at 100,000 items.
It does not bound work done in one expression (`'a' * 10**9`, `9 ** 10**9`,
`'x'.center(10**9)`), nor time spent in loops that write nothing
(`{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}`).
`BudgetedSandbox` rejects the first kind before Python allocates the result,
and stops the second kind at a deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Render budget for untrusted templates: output size and wall time.
MAX_RENDER_CHARS = 5_000_000
MAX_RENDER_SECONDS = 5.0
# Largest integer power a template may compute, in bits (about 30,000 decimal digits).
MAX_POWER_BITS = 100_000
# `lipsum(n)` writes n paragraphs of up to 100 words each.
MAX_LIPSUM_PARAGRAPHS = 1_000

# A width or precision of 7 or more digits in a format field: "%09999999d", "%.9999999f", "{:>9999999}".
_HUGE_FORMAT_WIDTH = re.compile(r"%[-#0 +]*(?:\d{7,}|\d*\.\d{7,})|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class RenderBudgetExceeded(BaseException):
    """A template exceeded the render budget.

    It derives from BaseException so that no `except Exception` inside Jinja2
    or a template's callables can swallow it.
    """


def _too_large(size: int, what: str) -> None:
    if size > MAX_RENDER_CHARS:
        raise RenderBudgetExceeded(
            f"{what} would produce {size:,} characters or items, over the limit of {MAX_RENDER_CHARS:,}"
        )


def _check_repeat(left: Any, right: Any) -> None:
    """Reject `sequence * n` whose result would exceed the output budget."""
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(count, int):
            _too_large(len(sequence) * count, "repeating a sequence")


def _check_power(base: Any, exponent: Any) -> None:
    """Reject an integer power whose result would exceed MAX_POWER_BITS."""
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        bits = abs(base).bit_length() * exponent
        if bits > MAX_POWER_BITS:
            raise RenderBudgetExceeded(
                f"the power {base} ** {exponent} has about {bits:,} bits, over {MAX_POWER_BITS:,}"
            )


def _check_format_string(text: Any) -> None:
    if isinstance(text, str) and _HUGE_FORMAT_WIDTH.search(text):
        raise RenderBudgetExceeded("a format field with a width or precision of 7 or more digits")


def _check_call(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Reject calls of string methods whose result size the arguments blow up."""
    function = getattr(function, "__wrapped__", function)
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "")
    if not isinstance(owner, str):
        return
    numbers = [value for value in (*args, *kwargs.values()) if isinstance(value, int)]
    if name in _PADDING_METHODS and numbers:
        _too_large(max(numbers) * max(1, len(owner)), f"str.{name}")
    elif name in ("format", "format_map"):
        _check_format_string(owner)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        occurrences = owner.count(args[0]) if args[0] else len(owner) + 1
        _too_large(len(owner) + occurrences * len(args[1]), "str.replace")
    elif name == "join" and args and isinstance(args[0], Sized):
        _too_large(len(owner) * len(args[0]), "str.join")


# Items a value printed by `{{ }}` or the string, tojson and pprint filters
# may contain, nested ones included. YAML aliases let a small file hold a list
# that expands to billions of items once printed.
MAX_PRINTED_ITEMS = 1_000_000


def _check_printed_size(value: Any) -> Any:
    """Return `value` unchanged, or raise if printing it would walk over MAX_PRINTED_ITEMS items."""
    if not isinstance(value, (list, tuple, dict, set, frozenset)):
        return value
    pending: list[Any] = [value]
    seen = 0
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
        else:
            continue
        seen += len(item)
        if seen > MAX_PRINTED_ITEMS:
            raise RenderBudgetExceeded(
                f"printing a value of more than {MAX_PRINTED_ITEMS:,} nested items (YAML aliases?)"
            )
    return value


def _guard_printing(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter that prints its whole value (string, tojson, pprint) with `_check_printed_size`."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        for value in args:
            _check_printed_size(value)
        return original(*args, **kwargs)

    guarded.__dict__.update(original.__dict__)
    return guarded


# Size-multiplying built-in filters, and how many leading arguments Jinja2
# passes them before the value (an eval context or the environment).
_GUARDED_FILTERS = {"center": 0, "indent": 0, "format": 0, "replace": 1, "join": 1, "wordwrap": 1}


def _check_filter(name: str, value: Any, options: list[Any], kwargs: dict[str, Any]) -> None:
    if name in ("center", "indent"):
        lines = str(value).count("\n") + 1
        for option in options:
            if isinstance(option, int) and not isinstance(option, bool):
                _too_large(option * lines, f"the {name} filter")
            elif isinstance(option, str):
                _too_large(len(option) * lines, f"the {name} filter")
    elif name == "format":
        _check_format_string(value)
    elif name == "replace" and len(options) >= 2 and isinstance(value, str):
        old, new = str(options[0]), str(options[1])
        occurrences = value.count(old) if old else len(value) + 1
        _too_large(len(value) + occurrences * len(new), "the replace filter")
    elif name == "join" and isinstance(value, Sized) and options and isinstance(options[0], str):
        _too_large(len(options[0]) * len(value), "the join filter")
    elif name == "wordwrap" and isinstance(value, str):
        wrapstring = kwargs.get("wrapstring", options[2] if len(options) > 2 else None)
        if isinstance(wrapstring, str):
            _too_large(len(value) * (1 + len(wrapstring)), "the wordwrap filter")


def _guard_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a size-multiplying built-in filter with a check of its result size."""
    leading = _GUARDED_FILTERS[name]

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if len(args) > leading:
            value = args[leading]
            positional = list(args[leading + 1 :])
            _check_filter(name, value, [*positional, *kwargs.values()] if name != "wordwrap" else positional, kwargs)
        return original(*args, **kwargs)

    guarded.__dict__.update(original.__dict__)  # keeps Jinja2's pass_environment/pass_eval_context marker
    return guarded


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with size checks on `*`, `**`, `%`, padding, joining and printing, and a deadline.

    Call `start_clock()` before rendering. The deadline is checked at every
    call, intercepted operator and iteration of a `{% for %}` loop, so loops
    that write nothing are stopped too. A single C call that Jinja2 cannot see
    into (sorting a huge list, one slow regular expression) is not interrupted.
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, finalize=_check_printed_size, **kwargs)
        self.deadline: float | None = None
        self.seconds: float = MAX_RENDER_SECONDS
        for name in _GUARDED_FILTERS:
            self.filters[name] = _guard_filter(name, self.filters[name])
        for name in ("string", "tojson", "pprint"):
            self.filters[name] = _guard_printing(self.filters[name])
        original_lipsum: Callable[..., Any] = self.globals["lipsum"]  # type: ignore[assignment]

        def lipsum(n: int = 5, *args: Any, **kwargs: Any) -> Any:
            if isinstance(n, int) and n > MAX_LIPSUM_PARAGRAPHS:
                raise RenderBudgetExceeded(f"lipsum({n}) asks for more than {MAX_LIPSUM_PARAGRAPHS:,} paragraphs")
            return original_lipsum(n, *args, **kwargs)

        self.globals["lipsum"] = lipsum

    def start_clock(self, seconds: float | None = None) -> None:
        """Start the render deadline: `seconds` (default MAX_RENDER_SECONDS) from now."""
        self.seconds = MAX_RENDER_SECONDS if seconds is None else seconds
        self.deadline = time.monotonic() + self.seconds

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise RenderBudgetExceeded(f"rendering took over {self.seconds:g} s")

    def iterate_with_deadline(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Yield the items of a `{% for %}` loop, checking the deadline before each."""
        for item in iterable:
            self.check_deadline()
            yield item

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse a template and route the iterable of every `{% for %}` through `iterate_with_deadline`."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            guard = nodes.Call(nodes.EnvironmentAttribute("iterate_with_deadline"), [loop.iter], [], None, None)
            loop.iter = guard.set_lineno(loop.iter.lineno).set_environment(self)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.check_deadline()
        if operator == "*":
            _check_repeat(left, right)
        elif operator == "**":
            _check_power(left, right)
        elif operator == "%":
            _check_format_string(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.check_deadline()
        _check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)
