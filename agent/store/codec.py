"""The store's JSON documents for dataclass records (statuses, alert states, notifications).

Engine snapshot records (`CheckStatus`, `ServiceStatus`) are kept as JSON documents beside
their key columns: the engine adds fields to them as it grows, and a document decoded with the
dataclass defaults for missing keys needs no migration for that.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter

R = TypeVar("R")


def encode_record(record: object) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass: datetimes as ISO 8601, enums by value."""
    adapter = _adapter(type(record))  # type: ignore[arg-type]  # a class is hashable
    encoded: dict[str, Any] = adapter.dump_python(record, mode="json")
    return encoded


def decode_record(cls: type[R], data: Mapping[str, Any]) -> R:
    """Rebuild a dataclass from `encode_record` output (or an older one's): keys the dataclass
    no longer has are ignored; fields the document lacks take their defaults."""
    decoded: R = _adapter(cls).validate_python(data)  # type: ignore[arg-type]  # a class is hashable
    return decoded


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    # pydantic's compiled (de)serialiser: status rows are encoded on the writer's hot path,
    # where the hand-written codec cost several times more (bench/RESULTS.md "Codec")
    return TypeAdapter(cls)
