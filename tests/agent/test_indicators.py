"""Indicators read from a real SqlStore on a temporary SQLite file, filled through `apply`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.catalog.model import Catalog, MaintenanceRule, Service, Timing
from agent.indicators.compute import compute_indicators, nearest_rank
from agent.indicators.documents import to_json
from agent.indicators.figures import Indicators, OpenIncident, ServiceFigures
from agent.indicators.periods import Period, parse_period
from agent.indicators.timeline import PlannedWindows
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    Effect,
    Incident,
    IncidentSaved,
    MaintenanceWindow,
    ResultRecorded,
    ServiceStatus,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
    UnknownRecorded,
)
from agent.store.sql import SqlStore
from checks.result import Outcome, ProbeResult

OCTOBER = parse_period("2026-10")  # Lisbon: 2026-09-30T23:00Z to 2026-11-01T00:00Z, 745 h
PERIOD_S = 745 * 3600
NOW = datetime(2026, 11, 5, tzinfo=UTC)
TIMING = Timing(interval=60, timeout=10, confirm_down=3, confirm_up=2)  # silence after 130 s


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def service(sid: str, tier: str = "prata", *, pcn: bool = False, monitored: bool = True) -> Service:
    return Service(
        id=sid,
        name=sid.title(),
        macro_service="comunicacoes",
        tier=tier,
        pcn=pcn,
        owner="ops",
        monitored=monitored,
        depends_on=(),
        maintenance=(),
        timing=TIMING,
        merge_within=0.0,
        flap_start=20.0,
        flap_stop=5.0,
        checks=(),
    )


def timeline(sid: str, *steps: tuple[datetime, State]) -> list[Effect]:
    """The service's transitions, a recent result in October and a status seen just before now."""
    transitions = tuple(Transition(sid, at, state) for at, state in steps)
    result = ProbeResult(f"{sid}/http", utc(10, 15), 0.1, Outcome.OK)
    status = ServiceStatus(
        sid, steps[-1][1], steps[-1][0], last_seen_at=NOW - timedelta(seconds=10)
    )
    return [
        TimelineRewritten(sid, steps[0][0], transitions),
        ResultRecorded(result),
        ServiceStatusSaved(status),
    ]


def incident(
    iid: int, sid: str, tier: str, pcn: bool, start: datetime, end: datetime | None
) -> IncidentSaved:
    restore = None if end is None else (end - start).total_seconds()
    return IncidentSaved(Incident(iid, sid, tier, pcn, start, start, end, restore))


def window(
    wid: int, sid: str, start: datetime, end: datetime, created: datetime
) -> MaintenanceWindow:
    return MaintenanceWindow(wid, sid, start, end, "patching", created_at=created)


CATALOG = Catalog(
    version=1,
    tiers={},
    services=(
        service("portal", "platina", pcn=True),
        service("vpn", "platina"),
        service("mail", "ouro", pcn=True),
        service("dns"),
        service("payments", "platina", pcn=True),
        service("legacy", "bronze"),
        service("archive", "bronze", monitored=False),
    ),
)
CALENDAR = MaintenanceCalendar(
    CATALOG,
    adhoc=(
        window(1, "mail", utc(10, 12, 1), utc(10, 12, 3), created=utc(10, 1)),  # planned
        window(2, "mail", utc(10, 12, 3), utc(10, 12, 4), created=utc(10, 12, 5)),  # retroactive
    ),
)

UP, DOWN = State.UP, State.DOWN
OCTOBER_EFFECTS: list[Effect] = [
    # portal: DOWN across the period start, a short outage, DOWN across the period end
    *timeline(
        "portal",
        (utc(9, 1), UP),
        (utc(9, 30, 22), DOWN),
        (utc(10, 1, 1), UP),
        (utc(10, 20, 10), DOWN),
        (utc(10, 20, 10, 20), UP),
        (utc(10, 31, 23), DOWN),
        (utc(11, 1, 2), UP),
    ),
    incident(1, "portal", "platina", True, utc(9, 30, 22), utc(10, 1, 1)),
    incident(2, "portal", "platina", True, utc(10, 20, 10), utc(10, 20, 10, 20)),
    incident(3, "portal", "platina", True, utc(10, 31, 23), utc(11, 1, 2)),
    # vpn: platina but not pcn, so its incident stays out of Ind.4
    *timeline("vpn", (utc(9, 1), UP), (utc(10, 5, 10), DOWN), (utc(10, 5, 10, 10), UP)),
    incident(4, "vpn", "platina", False, utc(10, 5, 10), utc(10, 5, 10, 10)),
    # mail: DOWN 02:00-04:00, a planned window 01:00-03:00, a retroactive one 03:00-04:00
    *timeline("mail", (utc(9, 1), UP), (utc(10, 12, 2), DOWN), (utc(10, 12, 4), UP)),
    incident(5, "mail", "ouro", True, utc(10, 12, 2), utc(10, 12, 4)),
    # dns: DOWN 10:00-12:00 with the agent not observing 10:30-11:00
    *timeline("dns", (utc(9, 1), UP), (utc(10, 10, 10), DOWN), (utc(10, 10, 12), UP)),
    UnknownRecorded("dns", utc(10, 10, 10, 30), utc(10, 10, 11)),
    # payments: an incident ending exactly at the period start, one still open at the end
    *timeline(
        "payments",
        (utc(9, 1), UP),
        (utc(9, 30, 22, 30), DOWN),
        (utc(9, 30, 23), UP),
        (utc(10, 31, 20), DOWN),
    ),
    incident(6, "payments", "platina", True, utc(9, 30, 22, 30), utc(9, 30, 23)),
    incident(7, "payments", "platina", True, utc(10, 31, 20), None),
    # legacy: monitored but never seen in October (one old result in September)
    ResultRecorded(ProbeResult("legacy/http", utc(9, 20), 0.1, Outcome.FAIL)),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    sql = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    yield sql
    sql.close()


@pytest.fixture
def october(store: SqlStore) -> Indicators:
    store.apply(OCTOBER_EFFECTS)
    return compute_indicators(store, CATALOG, CALENDAR, OCTOBER, NOW)


def figures(ind: Indicators, sid: str) -> ServiceFigures:
    return next(f for f in ind.services if f.id == sid)


def seconds(f: ServiceFigures) -> tuple[float, float, float, float]:
    return (f.up_seconds, f.down_seconds, f.maintenance_seconds, f.unknown_seconds)


# ---- per service --------------------------------------------------------------------------------


def test_every_catalogue_service_is_listed_in_catalogue_order(october: Indicators) -> None:
    assert [f.id for f in october.services] == [s.id for s in CATALOG.services]
    for f in october.services:
        assert sum(seconds(f)) == PERIOD_S, f.id


def test_incidents_crossing_the_period_edges_are_clipped(october: Indicators) -> None:
    portal = figures(october, "portal")
    # 23:00-01:00 of the first incident, 20 min, 23:00-24:00 of the last
    assert seconds(portal) == (PERIOD_S - 12_000, 12_000, 0, 0)
    assert portal.incidents == 3
    assert portal.longest_incident_seconds == 7200
    assert portal.availability == pytest.approx((PERIOD_S - 12_000) / PERIOD_S * 100)


def test_down_time_in_a_planned_window_is_excluded_but_not_in_a_retroactive_one(
    october: Indicators,
) -> None:
    mail = figures(october, "mail")
    assert seconds(mail) == (PERIOD_S - 10_800, 3600, 7200, 0)
    assert mail.availability == pytest.approx((PERIOD_S - 10_800) / (PERIOD_S - 7200) * 100)


def test_unknown_gap_inside_an_incident_is_neither_down_nor_up(october: Indicators) -> None:
    dns = figures(october, "dns")
    assert seconds(dns) == (PERIOD_S - 7200, 5400, 0, 1800)
    assert dns.availability == pytest.approx((PERIOD_S - 7200) / (PERIOD_S - 1800) * 100)


def test_incident_ending_at_the_period_start_does_not_count_for_the_service(
    october: Indicators,
) -> None:
    payments = figures(october, "payments")
    assert (payments.incidents, payments.longest_incident_seconds) == (1, 4 * 3600)
    assert payments.down_seconds == 4 * 3600


def test_service_never_seen_is_not_applicable(october: Indicators) -> None:
    legacy = figures(october, "legacy")
    assert legacy.availability is None
    assert legacy.unknown_seconds == PERIOD_S


def test_unmonitored_service_is_listed_as_such_with_no_figures(october: Indicators) -> None:
    archive = figures(october, "archive")
    assert (archive.monitored, archive.availability, archive.incidents) == (False, None, 0)
    assert archive.unknown_seconds == PERIOD_S


def test_time_after_now_inside_the_period_is_unknown(store: SqlStore) -> None:
    store.apply(OCTOBER_EFFECTS)
    now = utc(10, 16, 23)  # 16 days into the month, before any later change in the fixture
    ind = compute_indicators(store, CATALOG, CALENDAR, OCTOBER, now)
    vpn = figures(ind, "vpn")
    assert vpn.unknown_seconds == (OCTOBER.end - now).total_seconds()
    assert (vpn.up_seconds, vpn.down_seconds) == (16 * 86400 - 600, 600)


def test_planned_window_still_to_come_is_unknown_not_maintenance(store: SqlStore) -> None:
    store.apply(OCTOBER_EFFECTS)
    now = utc(10, 12, 2)  # in the middle of mail's planned window 01:00-03:00
    mail = figures(compute_indicators(store, CATALOG, CALENDAR, OCTOBER, now), "mail")
    assert (mail.maintenance_seconds, mail.down_seconds) == (3600, 0)
    assert mail.unknown_seconds == (OCTOBER.end - now).total_seconds()


def test_silence_up_to_now_is_unknown(store: SqlStore) -> None:
    store.apply(timeline("vpn", (utc(9, 1), UP)))
    last_seen = utc(10, 31, 12)
    store.apply([ServiceStatusSaved(ServiceStatus("vpn", UP, utc(9, 1), last_seen))])
    vpn = figures(compute_indicators(store, CATALOG, CALENDAR, OCTOBER, NOW), "vpn")
    assert vpn.unknown_seconds == (OCTOBER.end - last_seen).total_seconds()


def test_period_not_started_yet_is_all_unknown(store: SqlStore) -> None:
    store.apply(OCTOBER_EFFECTS)
    ind = compute_indicators(store, CATALOG, CALENDAR, parse_period("2027-01"), NOW)
    assert all(f.availability is None for f in ind.services)
    assert ind.ind3.value is None and ind.ind3.count == 0


# ---- Ind.3 ---------------------------------------------------------------------------------


def test_ind3_averages_known_availabilities_and_lists_not_applicable(october: Indicators) -> None:
    known = ["portal", "vpn", "mail", "dns", "payments"]
    mean = sum(figures(october, s).availability or 0 for s in known) / len(known)
    assert october.ind3.value == pytest.approx(mean)
    assert october.ind3.count == 5
    assert october.ind3.na_services == ("legacy",)  # archive is unmonitored, not N/A


# ---- Ind.4 ---------------------------------------------------------------------------------


def test_ind4_counts_closed_platina_pcn_incidents_that_ended_in_the_period(
    october: Indicators,
) -> None:
    ind4 = october.ind4
    # portal 180 and 20 min, payments 30 min (ended exactly at the start); not vpn (not pcn),
    # mail (ouro), portal #3 (ended after the period)
    assert ind4.count == 3
    assert ind4.value == pytest.approx((180 + 20 + 30) / 3)
    assert ind4.median == 30
    assert ind4.p90 == 180


def test_ind4_lists_incidents_open_at_the_period_end_apart(october: Indicators) -> None:
    assert october.ind4.open == (
        OpenIncident(7, "payments", utc(10, 31, 20), None),
        OpenIncident(3, "portal", utc(10, 31, 23), utc(11, 1, 2)),
    )


def test_ind4_is_none_without_closed_incidents(store: SqlStore) -> None:
    store.apply([incident(1, "portal", "platina", True, utc(10, 31, 20), None)])
    ind4 = compute_indicators(store, CATALOG, CALENDAR, OCTOBER, NOW).ind4
    assert (ind4.value, ind4.median, ind4.p90, ind4.count) == (None, None, None, 0)
    assert [o.id for o in ind4.open] == [1]


def test_ind4_uses_restore_seconds_which_exclude_maintenance(store: SqlStore) -> None:
    saved = Incident(1, "portal", "platina", True, utc(10, 2), utc(10, 2), utc(10, 2, 1), 1800.0)
    store.apply([IncidentSaved(saved)])
    assert compute_indicators(store, CATALOG, CALENDAR, OCTOBER, NOW).ind4.value == 30


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_nearest_rank_p90_is_an_observed_value_with_90_percent_at_or_below(
    values: list[float],
) -> None:
    ordered = sorted(values)
    p90 = nearest_rank(ordered, 90)
    assert p90 in ordered
    assert sum(v <= p90 for v in ordered) >= 0.9 * len(ordered)
    assert sum(v < p90 for v in ordered) < 0.9 * len(ordered)


# ---- coverage ------------------------------------------------------------------------------


def test_coverage_counts_unmonitored_services_in_the_denominator(october: Indicators) -> None:
    coverage = october.coverage
    assert (coverage.covered, coverage.total) == (5, 7)
    assert coverage.value == pytest.approx(5 / 7 * 100)
    assert coverage.not_covered == ("legacy", "archive")


# ---- JSON ----------------------------------------------------------------------------------


def test_json_has_exactly_the_documented_shape(october: Indicators) -> None:
    doc = to_json(october)
    assert set(doc) == {"period", "services", "ind3", "ind4", "coverage"}
    assert doc["period"] == {
        "start": "2026-09-30T23:00:00+00:00",
        "end": "2026-11-01T00:00:00+00:00",
        "label": "2026-10",
    }
    assert set(doc["services"][0]) == {
        "id", "availability", "up_seconds", "down_seconds", "maintenance_seconds",
        "unknown_seconds", "degraded_seconds", "tier", "macro_service", "pcn", "monitored",
        "incidents", "longest_incident_seconds",
    }  # fmt: skip
    assert set(doc["ind3"]) == {"value", "count", "na_services"}
    assert set(doc["ind4"]) == {"value", "median", "p90", "count", "open"}
    assert set(doc["coverage"]) == {"value", "covered", "total", "not_covered"}
    assert doc["ind4"]["open"][1] == {
        "id": 3,
        "service": "portal",
        "started_at": "2026-10-31T23:00:00+00:00",
        "ended_at": "2026-11-01T02:00:00+00:00",
    }
    assert json.loads(json.dumps(doc)) == doc


def test_json_writes_not_applicable_as_null(october: Indicators) -> None:
    legacy = next(s for s in to_json(october)["services"] if s["id"] == "legacy")
    assert legacy["availability"] is None


def test_period_label_of_a_range_is_kept(store: SqlStore) -> None:
    period = Period(utc(10, 1), utc(10, 2), "2026-10-01/2026-10-02")
    doc = to_json(compute_indicators(store, CATALOG, CALENDAR, period, NOW))
    assert doc["period"]["label"] == "2026-10-01/2026-10-02"


def test_planned_windows_equal_the_calendar_with_shared_rules_expanded_once() -> None:
    weekly = MaintenanceRule("0 2 * * 0", 7200, "Europe/Lisbon", "semanal")
    same_rule = MaintenanceRule("0 2 * * 0", 7200, "Europe/Lisbon", "outra razão")
    daily = MaintenanceRule("30 23 * * *", 3600, "UTC")
    services = tuple(
        replace(service(sid), maintenance=rules)
        for sid, rules in (("a", (weekly,)), ("b", (same_rule, daily)), ("c", ()), ("d", ()))
    )
    catalog = Catalog(version=1, tiers={}, services=services)
    adhoc = (
        window(1, "a", utc(10, 4, 1), utc(10, 4, 3), utc(9, 30)),  # overlaps a's rule
        window(2, "c", utc(10, 8, 9), utc(10, 8, 10), utc(10, 8, 9, 30)),  # retroactive
        window(3, "c", utc(10, 9, 9), utc(10, 9, 10), utc(9, 30)),
        replace(window(4, "d", utc(10, 9), utc(10, 10), utc(9, 30)), cancelled_at=utc(9, 30)),
        window(5, "zz", utc(10, 9), utc(10, 10), utc(9, 30)),  # not in the catalogue
    )
    october = parse_period("2026-10")
    for allow in (False, True):
        calendar = MaintenanceCalendar(catalog, adhoc, allow_retroactive=allow)
        cached = PlannedWindows(calendar)
        for sid in ("a", "b", "c", "d", "zz", "nobody"):
            for start, end in ((october.start, october.end), (utc(10, 4), utc(10, 5))):
                assert cached.planned(sid, start, end) == calendar.planned(sid, start, end)
    assert cached.planned("a", october.start, october.end)  # the test is not vacuous
