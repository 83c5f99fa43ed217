"""Where the database lives: the default SQLite path and URL normalisation.

Accepted forms: nothing (the default file), a bare path, `sqlite:///path`, and
`postgresql://` / `postgres://` URLs, which are pointed at the psycopg 3 driver.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from agent.store.errors import UnsupportedDatabaseError

_PSYCOPG = "postgresql+psycopg://"
_POSTGRES_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg2://")


def default_database_path(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """`$XDG_DATA_HOME/vigia/vigia.db`, else `~/.local/share/vigia/vigia.db`; makes the folder."""
    return data_dir(environ, home) / "vigia.db"


def data_dir(environ: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """The agent's data folder, `$XDG_DATA_HOME/vigia` or `~/.local/share/vigia`, created."""
    env = os.environ if environ is None else environ
    data_home = env.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    if data_home and Path(data_home).is_absolute():
        base = Path(data_home)
    else:
        base = (home or Path.home()) / ".local" / "share"
    folder = base / "vigia"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def database_url(
    value: str | None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> str:
    """A SQLAlchemy URL for `value`; the default SQLite file when `value` is empty."""
    text = (value or "").strip()
    if not text:
        return sqlite_url(default_database_path(environ, home))
    if text.startswith(_PSYCOPG):
        return text
    for prefix in _POSTGRES_PREFIXES:
        if text.startswith(prefix):
            return _PSYCOPG + text[len(prefix) :]
    if text.startswith("sqlite://"):
        return _normalise_sqlite(text)
    if "://" in text:
        raise UnsupportedDatabaseError(
            f"database URL {text!r}: only sqlite:///<path> and postgresql:// are supported"
        )
    return sqlite_url(Path(text))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.expanduser().resolve()}"


def _normalise_sqlite(text: str) -> str:
    rest = text.removeprefix("sqlite://")
    if not rest.startswith("/") or rest == "/":
        raise UnsupportedDatabaseError(
            f"database URL {text!r}: give a file, sqlite:///relative.db or sqlite:////abs.db"
        )
    path = rest[1:]
    if path == ":memory:" or path.startswith("file:") or "?" in path:
        return text  # in-memory, URI and query-string forms are passed through untouched
    return sqlite_url(Path(path))
