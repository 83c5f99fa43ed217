"""The connection side of `SqlStore`: one engine, transactions, and the SQL helpers every
concern's queries share.

The only dialect switches are the connection setup (SQLite pragmas and explicit BEGIN) and which
`insert()` construct provides ON CONFLICT; both dialects spell the upserts the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from sqlalchemy import (
    Connection,
    Executable,
    RowMapping,
    Table,
    and_,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from agent.store import migrations

HOUR = timedelta(hours=1)


class SqlDatabase:
    """The engine and its transactions. Thread-safe: every call takes its own pooled
    connection. Each concern of the store (agent/store/sql/*.py) is a subclass of this one."""

    def __init__(self, url: str, *, busy_timeout: float = 5.0) -> None:
        # LIFO: the writer, the busiest user, gets back the connection it just returned, whose
        # page cache is warm. FIFO handed each batch the coldest of the pooled connections (the
        # readers had grown the pool): SQL writes cost 2-3x their single-connection CPU.
        self._engine = create_engine(url, pool_use_lifo=True)
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._busy_ms = int(busy_timeout * 1000)
        if self._sqlite:
            event.listen(self._engine, "connect", self._setup_sqlite)

    def __repr__(self) -> str:
        # render_as_string hides the password by default: safe for logs
        return f"{type(self).__name__}({self._engine.url.render_as_string()})"

    @property
    def is_sqlite(self) -> bool:
        return self._sqlite

    def secret_url(self) -> str:
        """The URL with its password, for a component that opens its own connections (the
        cluster's lease renewer). Never log it."""
        return self._engine.url.render_as_string(hide_password=False)

    @property
    def database_file(self) -> Path | None:
        """The SQLite file; None for PostgreSQL or an in-memory database."""
        name = self._engine.url.database
        if not self._sqlite or not name or name == ":memory:" or name.startswith("file:"):
            return None
        return Path(name)

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = 5.0) -> Self:
        """A store on `url` with its schema migrated to the current version."""
        store = cls(url, busy_timeout=busy_timeout)
        store.migrate()
        return store

    def _setup_sqlite(self, dbapi_connection: Any, _record: Any) -> None:
        # Driver-level autocommit: `_transaction` issues BEGIN itself, because pysqlite's own
        # deferred BEGIN lets a read-then-write transaction fail with SQLITE_BUSY at once
        # instead of waiting busy_timeout for the lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        cursor.close()

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Connection]:
        """A connection inside one transaction (committed on success, rolled back on error).

        For what the `Store` protocol does not cover (ad-hoc report queries, migration tools).
        `write=True` takes SQLite's write lock up front.
        """
        with self._engine.begin() as conn:
            if self._sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn

    # ---- lifecycle --------------------------------------------------------------------------

    def migrate(self) -> None:
        with self.transaction(write=True) as conn:
            migrations.migrate(conn)

    def schema_version(self) -> int:
        with self.transaction() as conn:
            return migrations.current_version(conn)

    def close(self) -> None:
        self._engine.dispose()

    # ---- helpers of the concerns' queries ---------------------------------------------------

    def _fetch(self, query: Executable) -> Sequence[RowMapping]:
        """Rows of one read query, as mappings (keys are column names)."""
        with self.transaction() as conn:
            return conn.execute(query).mappings().all()

    def _insert(self, table: Table) -> Any:
        """An INSERT with `on_conflict_do_*` (the same API on both dialects)."""
        return sqlite.insert(table) if self._sqlite else postgresql.insert(table)

    def _insert_new(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self._insert(table).on_conflict_do_nothing(), rows)

    def _upsert(
        self, conn: Connection, table: Table, key: list[str], rows: list[dict[str, Any]]
    ) -> None:
        if not rows:
            return
        ins = self._insert(table)
        values = {name: ins.excluded[name] for name in rows[0] if name not in key}
        conn.execute(ins.on_conflict_do_update(index_elements=key, set_=values), rows)


def optional_filters(*pairs: tuple[Any, str | None]) -> list[ColumnElement[bool]]:
    return [column == value for column, value in pairs if value is not None]


def in_range(
    column: Any, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [] if start is None else [column >= start]
    return conditions + ([] if end is None else [column < end])


def hours_overlapping(table: Table, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    return [and_(table.c.hour > start - HOUR, table.c.hour < end)]
