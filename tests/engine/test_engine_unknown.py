"""Unknown time: silences and runs of unknown outcomes (semantics.md §4)."""

from __future__ import annotations

from agent.records import IncidentSaved, ResultRecorded, UnknownRecorded
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

# every test check: interval 60 s, timeout 10 s -> silence threshold 2 x 60 + 10 = 130 s


def test_a_silence_longer_than_the_threshold_records_unknown_time_with_exact_bounds() -> None:
    eng = engine(catalog(service("portal")))
    feed(eng, "portal/tcp", "oo")
    effects = eng.observe(result("portal/tcp", 400, Outcome.OK))
    assert isinstance(effects[0], ResultRecorded)
    assert effects[1] == UnknownRecorded("portal", at(60), at(400))
    assert of_type(effects, UnknownRecorded) == [effects[1]]


def test_a_gap_of_exactly_the_threshold_is_not_unknown() -> None:
    eng = engine(catalog(service("portal")))
    feed(eng, "portal/tcp", "o")
    assert of_type(eng.observe(result("portal/tcp", 130, Outcome.OK)), UnknownRecorded) == []


def test_an_incident_open_across_a_silence_stays_one_incident() -> None:
    eng = engine(catalog(service("portal")))
    effects = feed(eng, "portal/tcp", "offf")
    during = eng.observe(result("portal/tcp", 600, Outcome.FAIL, "connection refused"))
    after = feed(eng, "portal/tcp", "oo", start=660)
    assert of_type(during, UnknownRecorded) == [UnknownRecorded("portal", at(180), at(600))]
    assert of_type(during, IncidentSaved) == []
    [opened] = incidents(effects)
    [closed] = incidents(after)
    assert closed.id == opened.id == 1
    assert (closed.started_at, closed.ended_at, closed.restore_seconds) == (
        at(60),
        at(660),
        600.0,
    )


def test_a_run_of_unknown_outcomes_becomes_unknown_time_when_a_real_result_arrives() -> None:
    eng = engine(catalog(service("portal")))
    feed(eng, "portal/tcp", "ouuuuu")
    assert eng.service_status("portal").last_seen_at == at(0)
    effects = eng.observe(result("portal/tcp", 360, Outcome.OK))
    assert of_type(effects, UnknownRecorded) == [UnknownRecorded("portal", at(0), at(360))]
    assert eng.service_status("portal").last_seen_at == at(360)


def test_unknown_results_are_still_recorded() -> None:
    eng = engine(catalog(service("portal")))
    effects = feed(eng, "portal/tcp", "u")
    assert of_type(effects, ResultRecorded) == [
        ResultRecorded(result("portal/tcp", 0, Outcome.UNKNOWN), in_maintenance=False)
    ]
    assert of_type(effects, UnknownRecorded) == []


def test_last_seen_is_per_service_over_all_its_checks() -> None:
    eng = engine(catalog(service("portal", check("portal", "a"), check("portal", "b"))))
    feed(eng, "portal/a", "o", start=0)
    feed(eng, "portal/b", "o", start=100)
    effects = eng.observe(result("portal/a", 200, Outcome.OK))
    assert of_type(effects, UnknownRecorded) == []
