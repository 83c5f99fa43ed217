"""`expect_json`: conditions on a JSON answer in CEL, the Common Expression Language.

CEL (https://cel.dev) is small, typed and not Turing complete: no loops but the comprehension
macros (`all`, `exists`, `exists_one`, `map`, `filter`) over a list or map it is given, no
I/O, no assignment. vigia runs it with the `common-expression-language` package (the Rust
`cel` crate) and only CEL's own functions: the package's extra functions are Python callbacks,
off here, so nothing but the crate runs while an expression is evaluated.

An expression sees three variables: `body` (the parsed JSON answer), `status` (the HTTP status,
an int) and `headers` (lower-case names to values). It must be true; false, an error (a missing
key, a type mismatch) or a value that is not a bool fails the probe, and the reason quotes the
expression.

Cost bound. Evaluation runs on the probe's event loop and cannot be interrupted, so its cost is
bounded before it starts: at load, an expression is at most `MAX_SOURCE` characters, nests
comprehensions at most `MAX_DEPTH` deep and uses only known variables and functions; per probe,
the document is at most `max_body_bytes` (the body cap) and an expression with comprehensions
runs only when `largest container ** depth` (the iterations its loops can make at most) is
within `MAX_ITERATIONS`. Over it, the condition fails saying so (never a silent pass).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

MAX_SOURCE = 2000  # characters
MAX_DEPTH = 2  # nested comprehensions
# ~0.3 s of CPU for the heaviest nested loop measured (an inner `exists` comparing strings)
MAX_ITERATIONS = 250_000
VARIABLES = ("body", "status", "headers")
# CEL's own functions as the Rust crate ships them; operators are named `_op_`, `!_`, `@in`...
FUNCTIONS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches",
        "int", "uint", "double", "string", "bytes", "timestamp", "duration", "dyn", "type",
        "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
        "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
_MACROS = ("all", "exists_one", "exists", "map", "filter")
_STRING = re.compile(
    r"""[rR]?(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""", re.S
)
_MACRO_BEFORE = re.compile(r"\.\s*(?:" + "|".join(_MACROS) + r")\s*$")
_BINDER = re.compile(r"\.\s*(?:" + "|".join(_MACROS) + r")\s*\(\s*([A-Za-z_]\w*)\s*,")


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    program: cel.Program
    depth: int  # comprehensions nested, 0 for none


@functools.lru_cache(maxsize=8192)
def compile_expression(source: str) -> Expression:
    """The compiled expression, or ValueError saying what is wrong with it. Cached: the
    catalogue compiles each expression once at load, probes find it here."""
    if len(source) > MAX_SOURCE:
        raise ValueError(f"CEL expression longer than {MAX_SOURCE} characters")
    try:
        program = cel.compile(source)
    except ValueError as bad:
        raise ValueError(f"not a CEL expression: {_parse_error(bad)}") from None
    code = _STRING.sub('""', source)  # macro names inside string literals are not calls
    depth = _comprehension_depth(code)
    if depth > MAX_DEPTH:
        raise ValueError(f"comprehensions nested {depth} deep, at most {MAX_DEPTH}")
    _known_names(program, set(_BINDER.findall(code)))
    return Expression(source, program, depth)


def _parse_error(error: ValueError) -> str:
    # "Failed to parse expression '…': ERROR: <input>:1:9: Syntax error: …\n| …\n| ..^"
    text = str(error)
    found = re.search(r"<input>:(\d+):(\d+): (.*)", text)
    if found is None:
        return text.splitlines()[0]
    return f"{found.group(3)} (column {found.group(2)})"


def _comprehension_depth(code: str) -> int:
    """The deepest nesting of comprehension macro calls, by their parentheses."""
    opens: list[bool] = []  # for each open parenthesis: is it a macro call's
    depth = deepest = 0
    for position, char in enumerate(code):
        if char == "(":
            macro = _MACRO_BEFORE.search(code, max(0, position - 64), position) is not None
            opens.append(macro)
            depth += macro
            deepest = max(deepest, depth)
        elif char == ")" and opens:
            depth -= opens.pop()
    return deepest


def _known_names(program: cel.Program, binders: set[str]) -> None:
    unknown = [v for v in program.variables() if v not in VARIABLES and v not in binders]
    if unknown:
        raise ValueError(f"unknown variable {unknown[0]!r} (known: {', '.join(VARIABLES)})")
    for name in program.functions():
        if name[0].isalpha() and name not in FUNCTIONS:
            raise ValueError(f"unknown function {name!r}")


class Evaluation:
    """The variables of one answer, converted for CEL once and shared by its expressions."""

    __slots__ = ("_context", "_document", "_largest")

    def __init__(self, document: Any, status: int, headers: Mapping[str, str]) -> None:
        self._document = document
        self._largest: int | None = None
        self._context = cel.Context({"body": document, "status": status, "headers": headers})

    def failure(self, expressions: Iterable[str]) -> str | None:
        """The reason the first expression that does not hold fails, or None."""
        for source in expressions:
            reason = self._failure(compile_expression(source))
            if reason is not None:
                return reason
        return None

    def _failure(self, expression: Expression) -> str | None:
        name = f"JSON condition {_clip(expression.source)}"
        if expression.depth:
            iterations = self.largest_container() ** expression.depth
            if iterations > MAX_ITERATIONS:
                bound = f"its loops could run {iterations} iterations, over {MAX_ITERATIONS}"
                return f"{name} not evaluated: {bound}"
        try:
            value = expression.program.execute(self._context)
        except KeyError as missing:
            return f"{name}: no key {_clip(str(missing.args[0]))!r}"
        except (TypeError, ValueError, RuntimeError, IndexError, ArithmeticError) as error:
            return f"{name}: {_clip(str(error).split('. ')[0])}"
        if value is True:
            return None
        if value is False:
            return f"{name} is false"
        return f"{name} is {_clip(repr(value))}, not true or false"

    def largest_container(self) -> int:
        if self._largest is None:
            self._largest = _largest_container(self._document)
        return self._largest


def _largest_container(document: Any) -> int:
    largest = 0
    pending = [document]
    while pending:  # no recursion: a deeply nested document must not overflow the stack
        value = pending.pop()
        if isinstance(value, dict):
            largest = max(largest, len(value))
            pending.extend(value.values())
        elif isinstance(value, list):
            largest = max(largest, len(value))
            pending.extend(value)
    return largest


_SNIPPET = 80


def _clip(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"
