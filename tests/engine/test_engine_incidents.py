"""Incidents from probe results: start, confirmation, end, backdating, merging (§2-§3)."""

from __future__ import annotations

from dataclasses import replace

from agent.catalog.model import Impact
from agent.records import (
    CheckStatusSaved,
    Fragment,
    Incident,
    IncidentSaved,
    ResultRecorded,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
)
from checks.result import Outcome
from tests.engine.builders import (
    at,
    catalog,
    check,
    engine,
    feed,
    incidents,
    of_type,
    result,
    service,
)

REFUSED = "portal/tcp: connection refused"


# the outage of "offf" (ok at 0, fails from 60, confirmed by the probe at 180 lasting 0.5 s)
OUTAGE = Incident(
    id=1,
    service="portal",
    tier="platina",
    pcn=True,
    started_at=at(60),
    confirmed_at=at(180.5),
    cause=REFUSED,
    fragments=(Fragment(at(60), at(180.5)),),
)


def test_outage_start_is_first_failing_probe() -> None:
    eng = engine(catalog(service("portal")))
    effects = feed(eng, "portal/tcp", "offf")
    assert incidents(effects) == [OUTAGE]
    assert of_type(effects, TimelineRewritten) == [
        TimelineRewritten("portal", at(0), (Transition("portal", at(0), State.UP),)),
        TimelineRewritten("portal", at(60), (Transition("portal", at(60), State.DOWN),)),
    ]


def test_confirmed_at_is_the_end_of_the_confirming_probe_not_the_start() -> None:
    eng = engine(catalog(service("portal")))
    feed(eng, "portal/tcp", "offf")
    incident = eng.open_incident("portal")
    assert incident is not None
    assert (incident.started_at, incident.confirmed_at) == (at(60), at(180.5))


def test_effects_come_in_apply_order() -> None:
    eng = engine(catalog(service("portal")))
    feed(eng, "portal/tcp", "off")
    effects = eng.observe(result("portal/tcp", 180, Outcome.FAIL, "connection refused"))
    kinds = [type(e) for e in effects]
    assert kinds == [
        ResultRecorded,
        TimelineRewritten,
        IncidentSaved,
        CheckStatusSaved,
        ServiceStatusSaved,
    ]


def test_outage_end_is_the_first_ok_probe_of_the_confirming_run() -> None:
    eng = engine(catalog(service("portal")))
    effects = feed(eng, "portal/tcp", "offffoo")
    closed = replace(
        OUTAGE,
        ended_at=at(300),
        restore_seconds=240.0,
        fragments=(Fragment(at(60), at(180.5), at(300)),),
    )
    assert incidents(effects) == [closed]
    assert eng.open_incident("portal") is None
    assert eng.service_status("portal").state is State.UP
    assert eng.service_status("portal").since == at(300)


def test_a_broken_ok_run_does_not_end_the_outage() -> None:
    eng = engine(catalog(service("portal")))
    feed(eng, "portal/tcp", "offfofoo")
    incident = eng.open_incident("portal")
    assert incident is None
    assert eng.service_status("portal").since == at(360)


def test_unknown_results_neither_confirm_nor_break_a_run() -> None:
    eng = engine(catalog(service("portal")))
    effects = feed(eng, "portal/tcp", "ofuufuf")
    assert incidents(effects) == [
        replace(OUTAGE, confirmed_at=at(360.5), fragments=(Fragment(at(60), at(360.5)),))
    ]


def test_confirm_counts_are_per_check() -> None:
    quick = check("portal", confirm_down=1, confirm_up=1)
    eng = engine(catalog(service("portal", quick)))
    effects = feed(eng, "portal/tcp", "ofo")
    assert incidents(effects) == [
        replace(
            OUTAGE,
            confirmed_at=at(60.5),
            ended_at=at(120),
            restore_seconds=60.0,
            fragments=(Fragment(at(60), at(60.5), at(120)),),
        )
    ]


def test_degraded_check_makes_service_degraded_but_no_incident() -> None:
    eng = engine(catalog(service("portal")))
    effects = feed(eng, "portal/tcp", "odddo")
    assert incidents(effects) == []
    assert of_type(effects, TimelineRewritten)[1:] == [
        TimelineRewritten("portal", at(60), (Transition("portal", at(60), State.DEGRADED),)),
        TimelineRewritten("portal", at(240), (Transition("portal", at(240), State.UP),)),
    ]


def test_impact_degraded_check_down_makes_service_degraded_without_incident() -> None:
    tls = check("portal", "tls", impact=Impact.DEGRADED)
    eng = engine(catalog(service("portal", check("portal"), tls)))
    effects = feed(eng, "portal/tcp", "o") + feed(eng, "portal/tls", "offf", start=1)
    assert incidents(effects) == []
    assert eng.service_status("portal").state is State.DEGRADED
    assert eng.service_status("portal").since == at(61)


def test_later_confirmation_rewrites_an_earlier_degraded_step_into_down() -> None:
    # B soft-fails from t1, A turns degraded at t2, B confirms at t3: DOWN from t1
    a, b = check("portal", "a"), check("portal", "b", confirm_down=2)
    eng = engine(catalog(service("portal", a, b)))
    feed(eng, "portal/a", "o", start=0)
    feed(eng, "portal/b", "o", start=1)
    feed(eng, "portal/b", "f", start=61)  # t1
    degraded = feed(eng, "portal/a", "d", start=90)  # t2
    confirmed = feed(eng, "portal/b", "f", start=121)  # t3
    assert of_type(degraded, TimelineRewritten) == [
        TimelineRewritten("portal", at(90), (Transition("portal", at(90), State.DEGRADED),))
    ]
    assert of_type(confirmed, TimelineRewritten) == [
        TimelineRewritten("portal", at(61), (Transition("portal", at(61), State.DOWN),))
    ]
    assert incidents(confirmed) == [
        replace(
            OUTAGE,
            started_at=at(61),
            confirmed_at=at(121.5),
            cause="portal/b: connection refused",
            fragments=(Fragment(at(61), at(121.5)),),
        )
    ]


def test_service_comes_back_up_when_the_last_check_run_started_not_the_first() -> None:
    # A and B hard DOWN; B's ok run starts t4, A's t5 > t4; A confirms first, then B
    a, b = check("portal", "a", confirm_down=1), check("portal", "b", confirm_down=1)
    eng = engine(catalog(service("portal", a, b)))
    feed(eng, "portal/a", "f", start=0)
    feed(eng, "portal/b", "f", start=1)
    feed(eng, "portal/b", "o", start=60)  # t4
    a_up = feed(eng, "portal/a", "oo", start=100)  # t5, A confirmed UP at 160
    b_up = feed(eng, "portal/b", "o", start=170)
    assert of_type(a_up, TimelineRewritten) == []
    assert of_type(b_up, TimelineRewritten) == [
        TimelineRewritten("portal", at(60), (Transition("portal", at(100), State.UP),))
    ]
    [incident] = incidents(b_up)
    assert (incident.started_at, incident.ended_at, incident.restore_seconds) == (
        at(0),
        at(100),
        100.0,
    )


def test_an_earlier_run_confirmed_later_moves_the_incident_start() -> None:
    a, b = check("portal", "a", confirm_down=2), check("portal", "b", confirm_down=4)
    eng = engine(catalog(service("portal", a, b)))
    feed(eng, "portal/b", "offf", start=1)  # b fails from 61, confirms at 241
    opened = feed(eng, "portal/a", "off", start=100)  # a fails from 160, confirms at 220
    moved = eng.observe(result("portal/b", 241, Outcome.FAIL, "timeout"))
    assert incidents(opened)[0].started_at == at(160)
    assert incidents(moved) == [
        replace(
            OUTAGE,
            started_at=at(61),
            confirmed_at=at(220.5),
            cause="portal/b: connection refused",
            fragments=(Fragment(at(61), at(220.5)),),
        )
    ]


def test_incident_ids_increment() -> None:
    eng = engine(catalog(service("portal", check("portal", confirm_down=1, confirm_up=1))))
    effects = feed(eng, "portal/tcp", "ofofo")
    assert [i.id for i in incidents(effects)] == [1, 2]


def test_an_incident_starting_within_merge_within_reopens_the_previous_one() -> None:
    quick = check("portal", confirm_down=1, confirm_up=1)
    eng = engine(catalog(service("portal", quick, merge_within=120)))
    effects = feed(eng, "portal/tcp", "ofofo")
    assert incidents(effects) == [
        replace(
            OUTAGE,
            confirmed_at=at(60.5),
            ended_at=at(240),
            restore_seconds=180.0,
            fragments=(
                Fragment(at(60), at(60.5), at(120)),
                Fragment(at(180), at(180.5), at(240)),
            ),
        )
    ]


def test_an_incident_after_merge_within_is_a_new_one() -> None:
    quick = check("portal", confirm_down=1, confirm_up=1)
    eng = engine(catalog(service("portal", quick, merge_within=60)))
    effects = feed(eng, "portal/tcp", "ofofo")
    assert [(i.id, len(i.fragments)) for i in incidents(effects)] == [(1, 1), (2, 1)]


def test_a_merged_incident_reopens_with_no_end() -> None:
    quick = check("portal", confirm_down=1, confirm_up=1)
    eng = engine(catalog(service("portal", quick, merge_within=120)))
    feed(eng, "portal/tcp", "ofof")
    assert eng.open_incident("portal") == replace(
        OUTAGE,
        confirmed_at=at(60.5),
        fragments=(Fragment(at(60), at(60.5), at(120)), Fragment(at(180), at(180.5))),
    )


def test_an_ok_run_starting_with_another_check_change_still_sees_the_outage_start() -> None:
    # b turns degraded at 120 exactly when a's ok run starts: the DOWN from 60 must survive
    a, b = check("portal", "a", confirm_down=1), check("portal", "b")
    eng = engine(catalog(service("portal", a, b)))
    feed(eng, "portal/b", "o", start=0)
    feed(eng, "portal/a", "f", start=60)
    feed(eng, "portal/b", "d", start=120)
    effects = feed(eng, "portal/a", "oo", start=120)
    assert of_type(effects, TimelineRewritten) == [
        TimelineRewritten("portal", at(120), (Transition("portal", at(120), State.DEGRADED),))
    ]
    [incident] = incidents(effects)
    assert (incident.started_at, incident.ended_at) == (at(60), at(120))
