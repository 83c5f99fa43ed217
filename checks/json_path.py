"""A small JSON path, for the `json` rules of an http check and a scenario's captures:
`$.a.b[0].c`, `$['odd key']`, `$.items[-1]`."""

from __future__ import annotations

import functools
import re
from typing import Any

_PATH_TOKEN = re.compile(r"\.([^.\[\]'\"]+)|\[(-?\d+)\]|\[(['\"])(.*?)\3\]")


@functools.lru_cache(maxsize=1024)
def parse_json_path(path: str) -> tuple[str | int, ...]:
    """Steps of a path: keys (str) and indices (int). ValueError when it is not one."""
    if not path.startswith("$"):
        raise ValueError(f"{path!r} is not a JSON path (start it with '$')")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"{path!r} is not a JSON path (at character {position})")
        key, index, _, quoted = match.groups()
        steps.append(int(index) if index is not None else (key if key is not None else quoted))
        position = match.end()
    return tuple(steps)


def json_path(document: Any, path: str) -> Any:
    """The value at `path`; LookupError saying which step is missing."""
    try:
        steps = parse_json_path(path)
    except ValueError as bad:
        raise LookupError(str(bad)) from None
    value = document
    for step in steps:
        if not _has(value, step):
            raise LookupError(f"no {step!r} in {type(value).__name__}")
        value = value[step]
    return value


def _has(value: Any, step: str | int) -> bool:
    if isinstance(step, int):
        return isinstance(value, list) and -len(value) <= step < len(value)
    return isinstance(value, dict) and step in value
