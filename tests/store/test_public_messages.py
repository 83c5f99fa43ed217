"""Public messages in the store (agent.status.messages), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent.records import Incident, IncidentSaved
from agent.status import messages
from agent.store.errors import UnknownIncidentError
from agent.store.sql import SqlStore

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _incident(store: SqlStore, incident_id: int) -> None:
    incident = Incident(incident_id, "portal", "platina", True, AT, AT, cause="internal")
    store.apply([IncidentSaved(incident)])


def test_messages_of_incidents_and_services_round_trip(store: SqlStore) -> None:
    _incident(store, 7)
    first = messages.write(store, incident=7, service=None, text="a", author="op", at=AT)
    later = AT + timedelta(minutes=5)
    messages.write(store, incident=7, service=None, text="b\u0000", author="op", at=later)
    messages.write(store, incident=None, service="mail", text="c", author="op2", at=AT)
    assert first.id > 0 and first.written_at == AT
    assert [m.text for m in messages.of_incidents(store, [7, 8])[7]] == ["a", "b\ufffd"]
    assert [m.text for m in messages.listing(store)] == ["c", "b\ufffd", "a"]
    assert [m.service for m in messages.listing(store, service="mail")] == ["mail"]
    assert messages.latest_of_services(store, ["mail"], AT)["mail"].author == "op2"
    assert messages.latest_of_services(store, ["mail"], later) == {}


def test_an_unknown_incident_or_no_target_is_refused(store: SqlStore) -> None:
    with pytest.raises(UnknownIncidentError):
        messages.write(store, incident=9, service=None, text="a", author="op", at=AT)
    with pytest.raises(ValueError, match="one incident or one service"):
        messages.write(store, incident=None, service=None, text="a", author="op", at=AT)
    assert messages.listing(store) == []
