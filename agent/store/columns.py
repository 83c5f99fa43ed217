"""How the store's columns encode values, the same on SQLite and PostgreSQL.

Timestamps are UTC epoch microseconds in BIGINT columns on both backends: comparisons and
ordering are plain integer arithmetic, exact to the microsecond, with no dialect quirks
(SQLite has no datetime type, and PostgreSQL's would round-trip through the session time zone).
`UtcMicros` converts at the edge, so every value the store returns is timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Dialect, MetaData
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} (the store takes aware UTC only)")
    return (value - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class UtcMicros(TypeDecorator[datetime]):
    """An aware datetime stored as integer microseconds since the Unix epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_micros(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


metadata = MetaData()  # every table of the store (agent/store/schema.py names them all)

ID_CHARS = 200  # service and check ids are short slugs; 200 leaves room for "<service>/<check>"
LOCATION_CHARS = 63
