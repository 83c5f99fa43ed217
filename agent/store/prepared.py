"""The store writer's hot path as statements compiled once and run with the driver's executemany.

Every probe result costs a row in `probe_results` and an upsert of its hourly rollup, 333 times
a second at 10,000 services. Through SQLAlchemy Core each execution rebuilt the upsert (its
`excluded` alias and SET clause), computed its cache key and built its parameters: ~150 us of CPU
per result at the writer's batch size, more than the SQL itself (bench/RESULTS.md, "Scale").
Here the same constructs are compiled once per dialect, and each execution only converts the
values with the columns' own bind processors (the conversions SQLAlchemy would apply) and hands
the rows to the DB-API cursor: one code path for SQLite and PostgreSQL still.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from agent.store import schema as t

Row = Mapping[str, Any]
Processor = Callable[[Any], Any] | None


class Prepared:
    """One statement compiled for `dialect`, run over many rows. Its bind parameters are named
    after columns of `table`, whose types convert the values."""

    def __init__(self, statement: Any, table: Table, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self._positional = bool(compiled.positional)
        names = compiled.positiontup if compiled.positional else list(compiled.params)
        self._params: tuple[tuple[str, Processor], ...] = tuple(
            (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names or ()
        )

    def execute(self, conn: Connection, rows: Iterable[Row]) -> int:
        """Run the statement once per row (executemany); the number of rows it changed."""
        converted = [self._convert(row) for row in rows]
        if not converted:
            return 0
        return int(conn.exec_driver_sql(self.sql, converted).rowcount)

    def _convert(self, row: Row) -> tuple[Any, ...] | dict[str, Any]:
        if self._positional:
            return tuple([row[name] if p is None else p(row[name]) for name, p in self._params])
        return {name: row[name] if p is None else p(row[name]) for name, p in self._params}


class HotWrites:
    """The writer's per-result statements for one dialect (SQLite or PostgreSQL)."""

    def __init__(self, dialect: Dialect) -> None:
        dialect_insert = sqlite.insert if dialect.name == "sqlite" else postgresql.insert

        def upsert(table: Table, key: Sequence[str], set_: Callable[[Any], dict[str, Any]]) -> Any:
            names = [c.name for c in table.c if c is not table.autoincrement_column]
            ins = dialect_insert(table).values({n: bindparam(n) for n in names}).inline()
            if not set_(ins):
                return ins.on_conflict_do_nothing(index_elements=list(key))
            return ins.on_conflict_do_update(index_elements=list(key), set_=set_(ins))

        def replace(table: Table, key: Sequence[str]) -> Callable[[Any], dict[str, Any]]:
            return lambda ins: {c.name: ins.excluded[c.name] for c in table.c if c.name not in key}

        def add(table: Table, columns: Sequence[str]) -> Callable[[Any], dict[str, Any]]:
            return lambda ins: {n: table.c[n] + ins.excluded[n] for n in columns}

        results_key = t.RESULT_KEY
        self.results = Prepared(
            upsert(t.probe_results, results_key, lambda _: {}), t.probe_results, dialect
        )
        added = (*t.OUTCOME_COLUMNS, "latency_sum", *t.BUCKET_COLUMNS)
        self.rollups = Prepared(
            upsert(t.check_rollups, ("check", "hour"), add(t.check_rollups, added)),
            t.check_rollups,
            dialect,
        )
        self.check_status = Prepared(
            upsert(t.check_status, ("check",), replace(t.check_status, ("check",))),
            t.check_status,
            dialect,
        )
        location_key = ("check", "location")
        self.location_state = Prepared(
            upsert(t.location_state, location_key, replace(t.location_state, location_key)),
            t.location_state,
            dialect,
        )
        self.service_status = Prepared(
            upsert(t.service_status, ("service",), replace(t.service_status, ("service",))),
            t.service_status,
            dialect,
        )
        self.transitions = Prepared(
            upsert(t.transitions, ("service", "at"), replace(t.transitions, ("service", "at"))),
            t.transitions,
            dialect,
        )
        table = t.transitions
        self.transitions_after = Prepared(
            delete(table).where(
                table.c.service == bindparam("service"), table.c.at >= bindparam("at")
            ),
            table,
            dialect,
        )
