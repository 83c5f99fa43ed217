"""Helpers shared by the sub-commands: open the catalogue and the store, print JSON."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from agent.bounds import bounded
from agent.catalog.errors import CatalogError
from agent.catalog.loader import load
from agent.catalog.model import Catalog
from agent.cluster.sessions import bounded_idle_transactions
from agent.settings import Settings
from agent.store.errors import SchemaVersionError, UnsupportedDatabaseError
from agent.store.sql import SqlStore
from agent.store.url import database_url
from checks.secrets import SECRETS

EXIT_CONFIG = 2


class CommandError(Exception):
    """A user-facing failure: printed without a traceback, exit code 2."""


def open_catalog(settings: Settings) -> Catalog:
    try:
        return load(settings.catalog, locations=settings.location_names)
    except CatalogError as exc:
        raise CommandError(f"invalid catalogue {settings.catalog}:\n{exc}") from None


def open_store(settings: Settings) -> SqlStore:
    url = database_url(settings.db)
    if settings.cluster is not None:  # a cut node's open transaction must not pin partitions
        url = bounded_idle_transactions(url, settings.cluster.lease_seconds)
    try:
        return SqlStore.open(url)
    except (SchemaVersionError, UnsupportedDatabaseError) as exc:
        raise CommandError(f"cannot open the database: {exc}") from None
    except (SQLAlchemyError, OSError) as exc:  # unreachable server, read-only or full disk
        where = make_url(url).render_as_string(hide_password=True)
        hint = _unwritable_hint(url)
        raise CommandError(f"cannot open the database {where}: {_first_line(exc)}{hint}") from None


def _unwritable_hint(url: str) -> str:
    path = make_url(url).database if url.startswith("sqlite") else None
    if not path:
        return ""
    directory = Path(path).parent
    if not directory.is_dir():
        return f" (the directory {directory} does not exist)"
    if not os.access(directory, os.W_OK):
        return f" (the directory {directory} is not writable: a read-only filesystem?)"
    return ""


def _first_line(exc: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's statement echo and background link."""
    cause = getattr(exc, "orig", None) or exc
    return SECRETS.mask(str(cause).strip().splitlines()[0] if str(cause).strip() else repr(cause))


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
