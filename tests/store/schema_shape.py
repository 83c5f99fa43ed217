"""The shape of a migrated database (tables, columns, keys, indexes), to compare databases made
by different versions of the code; and the DDL of schema version 13 as the code of that time
made it (`tests/store/v13/`, written by `python -m tests.store.schema_shape URL...` before the
alert tables moved into alerting/).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, select

from agent.store import migrations, schema

FIXTURES = Path(__file__).parent / "v13"


def shape(conn: Connection) -> dict[str, Any]:
    """Every table the database holds, as plain data that JSON keeps as it is."""
    inspector = inspect(conn)
    tables: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        tables[name] = {
            "columns": [
                [c["name"], str(c["type"]), c["nullable"], str(c.get("default"))]
                for c in inspector.get_columns(name)
            ],
            "primary_key": inspector.get_pk_constraint(name)["constrained_columns"],
            "unique": sorted(
                [u["name"] or "", u["column_names"]] for u in inspector.get_unique_constraints(name)
            ),
            "indexes": sorted(
                [i["name"] or "", i["column_names"], bool(i["unique"])]
                for i in inspector.get_indexes(name)
            ),
            "foreign_keys": sorted(
                [f["constrained_columns"], f["referred_table"], f["referred_columns"]]
                for f in inspector.get_foreign_keys(name)
            ),
        }
    return tables


def versions(conn: Connection) -> list[list[Any]]:
    table = schema.schema_version
    query = select(table.c.version, table.c.description).order_by(table.c.version)
    return [list(row) for row in conn.execute(query)]


def statements(dialect: str) -> list[str]:
    """The DDL of a version 13 database on `dialect` ("sqlite" or "postgresql")."""
    text = (FIXTURES / f"{dialect}.sql").read_text()
    return [s.strip() for s in text.split(";\n") if s.strip()]


def write_fixtures(url: str) -> None:
    """Run once with the code whose schema the fixtures keep (here: version 13, before #13).

    PostgreSQL's DDL is `pg_dump --schema-only --no-owner --no-privileges -n SCHEMA` of that
    database, without comments, `SET` and `\\restrict` lines, and with `SCHEMA.` removed."""
    engine = create_engine(url)
    with engine.begin() as conn:
        migrations.migrate(conn)
        name = conn.dialect.name
        (FIXTURES / f"{name}_shape.json").write_text(
            json.dumps({"tables": shape(conn), "versions": versions(conn)}, indent=1) + "\n"
        )
        if name == "sqlite":
            query = "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
            made = [str(row[0]) for row in conn.exec_driver_sql(query)]
            (FIXTURES / "sqlite.sql").write_text(";\n".join(made) + ";\n")
    engine.dispose()


if __name__ == "__main__":
    for given in sys.argv[1:]:
        write_fixtures(given)
