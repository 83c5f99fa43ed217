"""Bounded CPU and memory for rule templates.

A rules file is configuration, but a template in it is a program, and a monitor must not be
stopped by one: a doubling `~` in a loop reaches gigabytes in a few dozen steps, `center(10**8)`
allocates 100 MB in one call, two nested loops over a 10,000-character string take seconds.

The bound is an invariant: no value a template holds is larger than MAX_VALUE, counted deeply
(a list of lists counts every inner item and every character of its strings, so `str()` of any
value stays proportional to MAX_VALUE). Operations whose result can be much larger than their
inputs (repetition, `%` and `format` widths, `join`, `replace`, `indent`, `sum`) are refused
*before* they allocate; every other result is checked right after. Every step of work (a loop
item, a call, a filter, an operator) counts against a budget, and a render has a deadline on
the monotonic clock. Filters and string methods come from an allowlist of those whose cost is
known. The environment is Jinja's immutable sandbox: a template cannot grow a list or a dict in
place, which would escape the checks.
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RANGE = 1000  # items a template's range() may produce
MAX_STEPS = 100_000  # loop items, calls, filters and operators one render may run in all
MAX_OUTPUT = 4096  # characters of one rendered label or annotation
MAX_OPERAND = 10_000  # largest repeat count, exponent, width or other integer argument
MAX_VALUE = 65_536  # characters and items of any value a template holds, counted deeply
DEADLINE_SECONDS = 0.5  # wall time of one render, on the monotonic clock
_CLOCK_EVERY = 256  # steps between two looks at the clock

# a run of digits too long for a width or precision in a %-format or str.format spec
_WIDE_FORMAT = re.compile(r"\d{6,}")

# the filters whose cost is proportional to their input (or pre-checked below); urlize,
# pprint, xmlattr and random are left out: their output or behaviour is not worth bounding
_FILTERS = frozenset(
    {
        *("abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort"),
        *("e", "escape", "filesizeformat", "first", "float", "forceescape", "format", "groupby"),
        *("indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max"),
        *("min", "reject", "rejectattr", "replace", "reverse", "round", "select", "selectattr"),
        *("slice", "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate"),
        *("unique", "upper", "urlencode", "wordcount", "wordwrap"),
    }
)

# string methods a template may call (the rest can amplify, e.g. expandtabs, or are not needed)
_STR_METHODS = frozenset(
    {
        *("capitalize", "casefold", "center", "count", "endswith", "find", "format", "index"),
        *("isalnum", "isalpha", "isdigit", "islower", "isspace", "istitle", "isupper", "join"),
        *("ljust", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace"),
        *("rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines"),
        *("startswith", "strip", "swapcase", "title", "upper", "zfill"),
    }
)


class TemplateBoundError(SecurityError):
    """A template asked for more CPU or memory than a label may take."""


@dataclass
class _Budget:
    steps: int = MAX_STEPS
    deadline: float = float("inf")
    clock: Callable[[], float] = field(default=time.monotonic)

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise TemplateBoundError(f"more than {MAX_STEPS} steps refused in a template")
        if self.steps % _CLOCK_EVERY == 0 and self.clock() > self.deadline:
            raise TemplateBoundError(f"a template ran past its {DEADLINE_SECONDS} s deadline")


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("template_budget")


def _spend() -> None:
    _budget.get(_Budget()).spend()


def deep_size(value: Any, limit: int = MAX_VALUE) -> int:
    """Characters and items of a value, nested ones included; stops counting past `limit`."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if not isinstance(value, list | tuple | set | frozenset):
        return 1
    total = len(value)
    for item in value:
        if total > limit:
            break
        total += deep_size(item, limit - total)
    return total


def _refuse_over(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise TemplateBoundError(f"{what} over {MAX_VALUE} characters or items refused")


def _sized(value: Any) -> Any:
    """The value, if it keeps the invariant; a template may not hold anything larger."""
    _refuse_over(deep_size(value), "a value")
    return value


def _small_integers(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OPERAND:
            raise TemplateBoundError(f"an integer argument over {MAX_OPERAND} refused")


def _narrow_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise TemplateBoundError("a format width or precision that large refused in a template")


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        _spend()
        yield item


def _range(*args: int) -> Iterator[int]:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise TemplateBoundError(f"range over {MAX_RANGE} items refused in a template")
    return _counted(result)


# ---- operations whose result size is known before they run


def _repeat(left: Any, right: Any) -> Any:
    _small_integers((left, right))
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            _refuse_over(deep_size(sequence) * max(count, 0), "a repetition")
    return operator.mul(left, right)


def _power(left: Any, right: Any) -> Any:
    _small_integers((left, right))
    return operator.pow(left, right)


def _percent(left: Any, right: Any) -> Any:
    _narrow_format(left)
    _small_integers(right if isinstance(right, tuple) else (right,))
    return operator.mod(left, right)


def _joined(separator: str, items: Iterable[Any]) -> str:
    texts = [str(item) for item in _counted(items)]
    _refuse_over(sum(map(len, texts)) + len(separator) * len(texts), "a joined string")
    return separator.join(texts)


def _replaced(text: str, old: str, new: str, count: int = -1) -> str:
    hits = text.count(old) if count < 0 else min(count, text.count(old))
    _refuse_over(len(text) + hits * max(len(new) - len(old), 0), "a replaced string")
    return text.replace(old, new, count)


def _refuse_wide_format(template: str, args: Iterable[Any]) -> None:
    """A format string's result is at most its length plus every field holding every argument."""
    _narrow_format(template)
    fields = template.count("{") + template.count("%")
    _refuse_over(len(template) + fields * deep_size(list(args)), "a formatted string")


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja's `format` filter, which is `%`-formatting."""
    text = str(value)
    _refuse_wide_format(text, [*args, *kwargs.values()])
    return text % (kwargs or args)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _repeat,
    "**": _power,
    "%": _percent,
    "+": operator.add,
    "-": operator.sub,
    "/": operator.truediv,
    "//": operator.floordiv,
}


def _prechecked_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    indent = filters["indent"]
    total = filters["sum"]

    def join(value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
        if attribute is not None:
            value = [item[attribute] for item in value]
        return _joined(str(d), value)

    def replace(value: Any, old: str, new: str, count: int | None = None) -> str:
        return _replaced(str(value), str(old), str(new), -1 if count is None else count)

    def indent_(value: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        pad = width if isinstance(width, str) else " " * int(width)
        _refuse_over(len(value) + len(pad) * (value.count("\n") + 1), "an indented string")
        return str(indent(value, width, first, blank))

    def sum_(env: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
        items = list(_counted(iterable))
        if not isinstance(start, int | float):
            _refuse_over(deep_size(items) + deep_size(start), "a sum")
        return total(env, items, attribute, start)

    sum_.jinja_pass_arg = total.jinja_pass_arg  # type: ignore[attr-defined]
    return {
        "join": join,
        "replace": replace,
        "indent": indent_,
        "format": _format_filter,
        "sum": sum_,
    }


def _guarded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja_pass_arg, so context-taking filters still get it
    def call(*args: Any, **kwargs: Any) -> Any:
        _spend()
        _small_integers((*args, *kwargs.values()))
        result = function(*args, **kwargs)
        if isinstance(result, Iterator):
            return _counted(result)
        return _sized(result)

    return call


_PRECHECKED_METHODS: dict[str, Callable[..., Any]] = {"join": _joined, "replace": _replaced}


class BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        self.globals = {"range": _range, "dict": dict, "namespace": self.globals["namespace"]}
        allowed = {name: self.filters[name] for name in _FILTERS}
        allowed.update(_prechecked_filters(allowed))
        self.filters = {name: _guarded_filter(f) for name, f in allowed.items()}
        self.filters["_counted"] = _counted
        self.globals["_bounded_join"] = functools.partial(_joined, "")

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """The syntax tree with every loop's items counted and every `~` a bounded join."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_counted", [], [], None, None, lineno=loop.lineno)
        for concat in list(tree.find_all(nodes.Concat)):
            join = nodes.Name("_bounded_join", "load")
            concat.nodes = [nodes.Call(join, [nodes.List(list(concat.nodes))], [], None, None)]
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and callable(value) and attr not in _STR_METHODS:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed `str.format`, refused first when its result would be too large."""
        sandboxed = super().wrap_str_format(value)
        if sandboxed is None:
            return None
        template: str = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            _refuse_wide_format(template, [*args, *kwargs.values()])
            return sandboxed(*args, **kwargs)

        return functools.update_wrapper(bounded, sandboxed)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _spend()
        return _sized(_BINOPS[operator](left, right))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call (a method, a macro, a global) is a step, with bounded integers and result."""
        _spend()
        _small_integers((*args, *kwargs.values()))
        owner = getattr(__obj, "__self__", None)
        prechecked = _PRECHECKED_METHODS.get(getattr(__obj, "__name__", ""))
        if isinstance(owner, str) and prechecked is not None:
            return _sized(prechecked(owner, *args, **kwargs))
        return _sized(super().call(__context, __obj, *args, **kwargs))


def render_bounded(
    template: Template, context: Mapping[str, Any], *, clock: Callable[[], float] = time.monotonic
) -> str:
    """Render with a fresh step budget and deadline, output cut (and rendering stopped) past
    MAX_OUTPUT."""
    token = _budget.set(_Budget(deadline=clock() + DEADLINE_SECONDS, clock=clock))
    try:
        return capped(template.generate(**context))
    finally:
        _budget.reset(token)


def capped(chunks: Iterator[str]) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        out.append(chunk)
        size += len(chunk)
        if size > MAX_OUTPUT:
            return "".join(out)[:MAX_OUTPUT] + "…"
    return "".join(out)
