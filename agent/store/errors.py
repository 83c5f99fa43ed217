"""The store's exceptions: one hierarchy, messages that name the offending value."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose."""


class UnsupportedDatabaseError(StoreError, ValueError):
    """The database URL names a backend the store does not support."""


class SchemaVersionError(StoreError):
    """The database schema is newer than this code knows (downgrade, or a newer agent wrote it)."""


class UnknownIncidentError(StoreError, LookupError):
    """An operation names an incident id that is not in the store."""


class WriterClosedError(StoreError):
    """Effects were submitted to a store writer that has been closed."""
