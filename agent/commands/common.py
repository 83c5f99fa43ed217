"""Helpers shared by the sub-commands: open the catalogue and the store, print JSON."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from agent.bounds import bounded
from agent.catalog.errors import CatalogError
from agent.catalog.loader import load
from agent.catalog.model import Catalog
from agent.settings import Settings
from agent.store.errors import SchemaVersionError, UnsupportedDatabaseError
from agent.store.sql import SqlStore
from agent.store.url import database_url

EXIT_CONFIG = 2


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit code 2."""


def open_catalog(settings: Settings) -> Catalog:
    try:
        return load(settings.catalog)
    except CatalogError as exc:
        raise CommandError(f"invalid catalogue {settings.catalog}:\n{exc}") from None


def open_store(settings: Settings) -> SqlStore:
    try:
        return SqlStore.open(database_url(settings.db))
    except (SchemaVersionError, UnsupportedDatabaseError) as exc:
        raise CommandError(f"cannot open the database: {exc}") from None


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=_default)
    sys.stdout.write("\n")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def parse_instant(text: str, tz: str) -> datetime:
    """ISO 8601; a value without offset is taken in the installation's time zone."""
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not an ISO 8601 date/time") from None
    try:
        return bounded(moment, repr(text), ZoneInfo(tz))
    except ValueError as exc:  # the allowed range is in the message
        raise CommandError(str(exc)) from None


def guarded(handler: Any) -> Any:
    """Turn CommandError into a message on stderr and exit code 2."""

    def wrapper(args: Any) -> int:
        try:
            result: int = handler(args)
            return result
        except CommandError as exc:
            print(f"vigia: {exc}", file=sys.stderr)
            return EXIT_CONFIG

    return wrapper
