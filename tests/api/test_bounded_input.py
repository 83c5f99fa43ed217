"""Out-of-range instants, NaN and lone surrogates are 422 naming the range; never 500.

And one window stored with an extreme date (by an older vigia or by hand) is skipped, with a
log line, while every other window, the calendar and the API keep working.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest

from agent.maintenance import MaintenanceCalendar
from tests.api.conftest import Running

RANGE = "1970-01-01T00:00:00Z .. 2100-01-01T00:00:00Z"
SOON = datetime.now(UTC) + timedelta(days=1)


def window(start: str, end: str, reason: str = "upgrade") -> dict[str, str]:
    return {"service": "portal", "start": start, "end": end, "reason": reason}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+23:59", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"),
        ("1969-12-31T23:59:59Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "2100-01-01T00:00:01Z"),
    ],
)
async def test_a_window_outside_the_allowed_range_is_422_stating_it(
    running: Running, start: str, end: str
) -> None:
    operator = running.auth("operator")
    answer = await running.client.post(
        "/api/v1/maintenance", json=window(start, end), headers=operator
    )
    assert answer.status_code == 422
    assert RANGE in answer.text
    assert running.store.windows(include_cancelled=True) == []


@pytest.mark.parametrize("path", ["/api/v1/maintenance", "/api/v1/incidents"])
@pytest.mark.parametrize(
    "query",
    [
        {"from": "0001-01-01T00:00:00+23:59"},
        {"to": "9999-12-31T23:59:59-23:59"},
    ],
)
async def test_an_out_of_range_from_or_to_is_422_stating_the_range(
    running: Running, path: str, query: dict[str, str]
) -> None:
    answer = await running.client.get(path, params=query, headers=running.auth("viewer"))
    assert answer.status_code == 422
    assert RANGE in answer.text


@pytest.mark.parametrize(
    "query",
    [
        {"period": "0001-01"},
        {"period": "9999"},
        {"from": "0001-01-01T00:00:00+23:59", "to": "2026-01-01T00:00:00Z"},
        {"from": "0001-01-01", "to": "2026-01-01"},
    ],
)
async def test_an_out_of_range_indicator_period_is_422_stating_the_range(
    running: Running, query: dict[str, str]
) -> None:
    answer = await running.client.get(
        "/api/v1/indicators", params=query, headers=running.auth("viewer")
    )
    assert answer.status_code == 422
    assert "allowed range 1970-01-01T00:00:00Z" in answer.text


@pytest.mark.parametrize(
    "body",
    [
        '{"service": "portal", "start": NaN, "end": Infinity, "reason": "x"}',
        '{"service": NaN}',
        '{"service": "portal", "start": "2030-01-01T00:00:00Z",'
        ' "end": "2030-01-02T00:00:00Z", "reason": "\\ud800"}',
        '{"service": "\\udfff", "start": "x", "end": "y", "reason": "z"}',
    ],
)
async def test_nan_and_lone_surrogates_in_a_body_are_422_not_500(
    running: Running, body: str
) -> None:
    headers = running.auth("operator") | {"content-type": "application/json"}
    answer = await running.client.post("/api/v1/maintenance", content=body, headers=headers)
    assert answer.status_code == 422
    answer.json()  # a body that parses: the bad value was echoed safely


async def test_nan_in_an_annotation_or_ack_is_422(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    headers = running.auth("operator") | {"content-type": "application/json"}
    note = await running.client.post(
        f"/api/v1/incidents/{incident.id}/annotations",
        content='{"field": "note", "text": NaN}',
        headers=headers,
    )
    assert note.status_code == 422


async def test_a_stored_window_with_an_extreme_date_is_skipped_and_the_rest_keep_working(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    extreme = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))
    now = datetime.now(UTC)
    bad = running.store.add_window("portal", extreme, SOON, "old row", "hand", now)
    good = running.store.add_window("portal", SOON, SOON + timedelta(hours=1), "ok", "op", now)
    viewer = running.auth("viewer")
    with caplog.at_level(logging.WARNING):
        listed = await running.client.get("/api/v1/maintenance", headers=viewer)
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()] == [good.id]
    assert f"maintenance windows {bad.id} skipped" in caplog.text
    assert running.store.skipped_windows == 1
    calendar = MaintenanceCalendar(running.agent.catalog, running.store.windows())
    assert calendar.in_planned("portal", SOON + timedelta(minutes=30))
    assert not calendar.in_planned("portal", SOON - timedelta(minutes=30))
    service = await running.client.get("/api/v1/services/portal", headers=viewer)
    assert service.status_code == 200
    indicators = await running.client.get("/api/v1/indicators", headers=viewer)
    assert indicators.status_code == 200
