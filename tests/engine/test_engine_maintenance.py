"""Planned maintenance: results flagged, restoration time reduced, states untouched (§5)."""

from __future__ import annotations

from agent.records import Fragment, Incident, ResultRecorded, State
from tests.engine.builders import at, catalog, engine, feed, incidents, of_type, service, window


def test_results_inside_a_planned_window_are_flagged_in_maintenance() -> None:
    eng = engine(catalog(service("portal")), [window("portal", at(60), at(120))])
    flags = [r.in_maintenance for r in of_type(feed(eng, "portal/tcp", "ooo"), ResultRecorded)]
    assert flags == [False, True, False]


def test_restore_seconds_exclude_the_overlap_with_planned_maintenance() -> None:
    eng = engine(catalog(service("portal")), [window("portal", at(120), at(240))])
    effects = feed(eng, "portal/tcp", "offffoo")
    assert incidents(effects) == [
        Incident(
            id=1,
            service="portal",
            tier="platina",
            pcn=True,
            started_at=at(60),
            confirmed_at=at(180.5),
            ended_at=at(300),
            restore_seconds=120.0,
            maintenance_seconds=120.0,
            cause="portal/tcp: connection refused",
            fragments=(Fragment(at(60), at(180.5), at(300)),),
        )
    ]


def test_maintenance_does_not_change_states_or_incidents() -> None:
    eng = engine(catalog(service("portal")), [window("portal", at(0), at(3600))])
    feed(eng, "portal/tcp", "offf")
    assert eng.service_status("portal").state is State.DOWN
    assert eng.open_incident("portal") is not None


def test_a_retroactive_window_excludes_nothing() -> None:
    late = window("portal", at(120), at(240))
    late = type(late)(late.id, late.service, late.start, late.end, late.reason, at(200))
    eng = engine(catalog(service("portal")), [late])
    [incident] = incidents(feed(eng, "portal/tcp", "offffoo"))
    assert (incident.restore_seconds, incident.maintenance_seconds) == (240.0, 0.0)
