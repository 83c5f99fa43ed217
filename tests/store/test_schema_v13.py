"""A database keeps its shape when the code that owns its tables moves (issue #13: the alert
tables moved from agent/store/schema.py into alerting/). A fresh database gets exactly the
tables, columns, keys and indexes that version 13 had, and a database that the version 13 code
made is taken as it is: no step runs again, nothing is altered, the alert rows work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, insert

from agent.store import migrations, schema
from agent.store.sql import SqlStore
from alerting import alert_store
from alerting.outbox import Outbox
from alerting.state import AlertState
from tests.alerting.servers import notification
from tests.store.schema_shape import FIXTURES, shape, statements, versions

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _expected(dialect: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{dialect}_shape.json").read_text())
    return data


def _make_version_13_database(url: str, upto: int = 13) -> str:
    """The database as the version 13 code left it (with versions `upto` and below recorded);
    returns its dialect's name."""
    engine = create_engine(url)
    with engine.begin() as conn:
        dialect = conn.dialect.name
        for statement in statements(dialect):
            conn.exec_driver_sql(statement)
        for version, description in _expected(dialect)["versions"][:upto]:
            row = {"version": version, "description": description, "applied_at": T0}
            conn.execute(insert(schema.schema_version), row)
        if upto < 11:  # before step 11, outbox and alert rows had no partition
            for table in ("outbox", "alert_state"):
                conn.exec_driver_sql(f'ALTER TABLE {table} DROP COLUMN "partition"')
    engine.dispose()
    return dialect


def test_a_new_database_has_the_shape_of_version_13(store: SqlStore) -> None:
    with store.transaction() as conn:
        expected = _expected(conn.dialect.name)
        assert versions(conn) == expected["versions"]
        assert shape(conn) == expected["tables"]


def test_a_database_the_version_13_code_made_is_taken_as_it_is(store_url: str) -> None:
    dialect = _make_version_13_database(store_url)
    engine = create_engine(store_url)
    with engine.begin() as conn:
        assert migrations.migrate(conn) == []
        assert shape(conn) == _expected(dialect)["tables"]
    engine.dispose()
    store = SqlStore.open(store_url)
    try:
        alert = AlertState("ServiceDown/portal", "ServiceDown", "cco", "portal", None, T0, T0, True)
        alert_store.save_alerts(store, [alert], T0, ({0}, lambda _alert_id: 0))
        assert alert_store.load_alerts(store, [0]) == [alert]
        ack = alert_store.request_ack(store, "ServiceDown/portal", "ana", "on it", T0)
        assert [a.id for a in alert_store.pending_acks(store)] == [ack]
        Outbox(store).enqueue([notification()], ["am"], T0)
        assert [item.receiver for item in Outbox(store).due(T0)] == ["am"]
    finally:
        store.close()


def test_a_version_10_database_gets_alertings_part_of_step_11(store_url: str) -> None:
    dialect = _make_version_13_database(store_url, upto=10)
    engine = create_engine(store_url)
    with engine.begin() as conn:
        assert migrations.migrate(conn) == [11, 12, 13]
        assert shape(conn) == _expected(dialect)["tables"]
    engine.dispose()
