"""Schema versions, and how a database is found and opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, inspect, select, text

from agent.store import migrations, schema
from agent.store.errors import SchemaVersionError, UnsupportedDatabaseError
from agent.store.sql import SqlStore
from agent.store.url import data_dir, database_url, default_database_path


def test_opening_creates_every_table_and_records_the_version(store: SqlStore) -> None:
    with store.transaction() as conn:
        tables = set(inspect(conn).get_table_names())
        versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    assert set(schema.metadata.tables) <= tables
    assert versions == [m.version for m in migrations.MIGRATIONS]
    assert store.schema_version() == migrations.LATEST_VERSION


def test_migrating_again_changes_nothing(store: SqlStore) -> None:
    store.migrate()
    store.migrate()
    with store.transaction() as conn:
        query = select(schema.schema_version.c.version).order_by(schema.schema_version.c.version)
        rows = conn.execute(query).scalars().all()
    assert rows == [m.version for m in migrations.MIGRATIONS]


def test_pending_steps_run_once_in_order(store: SqlStore) -> None:
    ran: list[int] = []
    latest = migrations.LATEST_VERSION
    steps = [
        *migrations.MIGRATIONS,
        migrations.Migration(latest + 2, "second", lambda conn: ran.append(latest + 2)),
        migrations.Migration(latest + 1, "first", lambda conn: ran.append(latest + 1)),
    ]
    with store.transaction(write=True) as conn:
        assert migrations.migrate(conn, steps) == [latest + 1, latest + 2]
    with store.transaction(write=True) as conn:
        assert migrations.migrate(conn, steps) == []
    assert ran == [latest + 1, latest + 2] and store.schema_version() == latest + 2


def test_a_failing_step_leaves_the_schema_as_it_was(store: SqlStore) -> None:
    def broken(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE half_done (x INTEGER)"))
        raise RuntimeError("the next step failed")

    latest = migrations.LATEST_VERSION
    steps = [*migrations.MIGRATIONS, migrations.Migration(latest + 1, "broken", broken)]
    with pytest.raises(RuntimeError, match="next step"), store.transaction(write=True) as conn:
        migrations.migrate(conn, steps)
    assert store.schema_version() == latest
    with store.transaction() as conn:
        assert not inspect(conn).has_table("half_done")


def test_a_database_newer_than_the_code_is_refused(store: SqlStore) -> None:
    with store.transaction(write=True) as conn:
        row = {"version": 99, "description": "future", "applied_at": schema.EPOCH}
        conn.execute(insert(schema.schema_version), row)
    with pytest.raises(SchemaVersionError, match="version 99 is newer"):
        store.migrate()


# ---- finding the database ------------------------------------------------------------------


def test_default_path_follows_xdg_data_home_and_creates_the_folder(tmp_path: Path) -> None:
    path = default_database_path({"XDG_DATA_HOME": str(tmp_path / "data")})
    assert path == tmp_path / "data" / "vigia" / "vigia.db"
    assert path.parent.is_dir()
    assert data_dir({"XDG_DATA_HOME": str(tmp_path / "data")}) == path.parent


def test_default_path_falls_back_to_local_share(tmp_path: Path) -> None:
    path = default_database_path({"XDG_DATA_HOME": "relative/ignored"}, home=tmp_path)
    assert path == tmp_path / ".local" / "share" / "vigia" / "vigia.db"
    assert database_url(None, {}, home=tmp_path) == f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@db:5432/vigia", "postgresql+psycopg://u@db:5432/vigia"),
        ("postgres://u@db/vigia", "postgresql+psycopg://u@db/vigia"),
        ("postgresql+psycopg://u@db/vigia", "postgresql+psycopg://u@db/vigia"),
        ("sqlite:////var/lib/vigia.db", "sqlite:////var/lib/vigia.db"),
        ("/var/lib/vigia.db", "sqlite:////var/lib/vigia.db"),
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert database_url(given) == expected


def test_a_relative_path_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_url("data/vigia.db") == f"sqlite:///{tmp_path / 'data' / 'vigia.db'}"
    assert database_url("sqlite:///data/vigia.db") == f"sqlite:///{tmp_path / 'data/vigia.db'}"


def test_other_databases_are_refused() -> None:
    with pytest.raises(UnsupportedDatabaseError, match="'mysql://x/y'"):
        database_url("mysql://x/y")


def test_a_store_opens_on_a_bare_path(tmp_path: Path) -> None:
    store = SqlStore.open(database_url(str(tmp_path / "v.db")))
    try:
        with store.transaction() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        store.close()


def test_step_8_adds_the_public_messages_table_to_a_version_7_database(store: SqlStore) -> None:
    with store.transaction(write=True) as conn:
        conn.execute(schema.public_messages.delete())
        schema.public_messages.drop(conn)
        schema.report_archive.drop(conn)  # step 9 too: a database as version 7 left it
        conn.execute(schema.schema_version.delete().where(schema.schema_version.c.version >= 8))
    assert store.schema_version() == 7
    store.migrate()
    assert store.schema_version() == migrations.LATEST_VERSION
    with store.transaction() as conn:
        assert inspect(conn).has_table("public_messages")
        [description] = conn.execute(
            select(schema.schema_version.c.description).where(schema.schema_version.c.version == 8)
        ).scalars()
    assert "public messages" in description


def test_step_10_adds_the_location_tables_to_a_version_9_database(store: SqlStore) -> None:
    with store.transaction(write=True) as conn:
        schema.location_state.drop(conn)
        schema.dropped_results.drop(conn)
        conn.execute(schema.schema_version.delete().where(schema.schema_version.c.version >= 10))
    assert store.schema_version() == 9
    store.migrate()
    assert store.schema_version() == migrations.LATEST_VERSION  # 11 and 12 rerun harmlessly
    with store.transaction() as conn:
        assert inspect(conn).has_table("location_state")
        assert inspect(conn).has_table("dropped_results")
    assert store.load_snapshot().locations == {} and store.dropped_counts() == {}


def test_an_owners_step_runs_within_the_store_step_of_its_number() -> None:
    ran: list[str] = []
    steps = [
        migrations.Migration(1, "one", lambda conn: ran.append("store 1")),
        migrations.Migration(2, "two", lambda conn: ran.append("store 2")),
    ]
    owner = {2: lambda conn: ran.append("owner 2")}
    composed = migrations.with_owners(steps, [owner])
    assert [(m.version, m.description) for m in composed] == [(1, "one"), (2, "two")]
    for step in composed:
        step.apply(None)  # type: ignore[arg-type]  # the parts above take no connection
    assert ran == ["store 1", "store 2", "owner 2"]


def test_an_owners_step_with_no_number_in_the_history_is_refused() -> None:
    steps = [migrations.Migration(1, "one", lambda conn: None)]
    with pytest.raises(ValueError, match=r"steps \[5\] have no entry"):
        migrations.with_owners(steps, [{5: lambda conn: None}])
