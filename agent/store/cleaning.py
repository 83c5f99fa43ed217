"""Text as every backend can hold it, applied by the column types where records enter the store.

A target, a plugin or an operator can hand vigia any string: PostgreSQL text cannot hold NUL,
UTF-8 cannot encode a lone surrogate, and a plugin can print megabytes. One such value used to
fail its whole batch for ever. The column types below clean each value as it is bound, on
SQLite and PostgreSQL alike, through SQLAlchemy Core and the writer's prepared statements.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

REPLACEMENT = "\ufffd"  # what a NUL or a lone surrogate becomes
TEXT_LIMIT = 16_384  # characters of one free-text value (a reason, an annotation, an error)
TRUNCATED = "… [{} characters cut]"


def clean_text(value: str, limit: int = TEXT_LIMIT) -> str:
    """`value` without NUL or lone surrogates, at most `limit` characters long."""
    if not value.isascii():
        value = _valid_unicode(value)
    if "\x00" in value:
        value = value.replace("\x00", REPLACEMENT)
    if len(value) > limit:
        cut = len(value) - limit
        marker = TRUNCATED.format(cut)
        value = value[: max(0, limit - len(marker))] + marker
    return value


def _valid_unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # surrogatepass keeps well-formed pairs as they are; lone halves become U+FFFD
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def clean_document(value: Any) -> Any:
    """A JSON document with every string in it (keys included) cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_document(v) for v in value]
    return value


class SafeText(TypeDecorator[str]):
    """Free text: cleaned and bounded."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean_text(value)


class SafeString(TypeDecorator[str]):
    """A short name (an author, an actor): cleaned and cut to the column's length."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return clean_text(value, getattr(self.impl_instance, "length", None) or TEXT_LIMIT)


class SafeJSON(TypeDecorator[Any]):
    """A JSON document whose strings are cleaned (PostgreSQL rejects an escaped lone surrogate)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return clean_document(value)
