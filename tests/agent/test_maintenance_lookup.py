"""`MaintenanceCalendar.in_planned`, answered from cached occurrences, agrees with the full
computation (`planned`) for instants in any order, across DST changes and ad-hoc windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.catalog.loader import load_text
from agent.maintenance import MaintenanceCalendar
from agent.records import MaintenanceWindow

CATALOG = """\
version: 1
services:
  - id: s
    name: S
    macro_service: formacao
    tier: bronze
    maintenance:
      - {cron: "0 2 * * 0", duration: 2h, timezone: Europe/Lisbon}
      - {cron: "*/20 * * * *", duration: 5m, timezone: UTC}
      - {cron: "30 1 1 * 1", duration: 90m, timezone: Europe/Lisbon}
    checks: [{tcp: {host: 127.0.0.1, port: 1}}]
"""
START = datetime(2026, 3, 25, tzinfo=UTC)  # the spring DST change (29 March) is inside
ADHOC = MaintenanceWindow(
    id=1, service="s", start=START + timedelta(days=2, hours=3),
    end=START + timedelta(days=2, hours=5), reason="patch", author="op",
    created_at=START,
)  # fmt: skip


def _calendar() -> MaintenanceCalendar:
    return MaintenanceCalendar(load_text(CATALOG), adhoc=[ADHOC])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=14 * 24 * 3600), min_size=1, max_size=80))
def test_in_planned_agrees_with_planned_in_any_order(offsets: list[int]) -> None:
    calendar, reference = _calendar(), _calendar()
    for offset in offsets:
        at = START + timedelta(seconds=offset)
        expected = bool(reference.planned("s", at, at + timedelta(microseconds=1)))
        assert calendar.in_planned("s", at) is expected, at


def test_in_planned_in_time_order_over_a_fortnight() -> None:
    calendar, reference = _calendar(), _calendar()
    at, seen = START, 0
    while at < START + timedelta(days=14):
        expected = bool(reference.planned("s", at, at + timedelta(microseconds=1)))
        assert calendar.in_planned("s", at) is expected, at
        seen += expected
        at += timedelta(seconds=37)
    assert seen > 0
