"""Durations written as `500ms`, `30s`, `5m`, `2h`, `1d` (or a bare number of seconds)."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: Any) -> float:
    """Seconds for a duration; raises ValueError naming the value when it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 30s, 5m, 2h)")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str) and (text := _text_seconds(value)) is not None:
        seconds = text
    else:
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 30s, 5m, 2h)")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0:
        raise ValueError(f"{value!r} is negative")
    return seconds


@lru_cache(maxsize=1024)  # a catalogue writes the same few durations thousands of times
def _text_seconds(value: str) -> float | None:
    match = _PATTERN.match(value)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else None


def format_duration(seconds: float) -> str:
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds * 1000)}ms"


Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
"""A duration field in seconds, parsed from the human form."""
