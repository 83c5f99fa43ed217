"""The engine over several locations (semantics.md §8), with explicit timestamps."""

from __future__ import annotations

from dataclasses import replace

from agent.engine import Engine
from agent.engine.multilocation import MultiLocationCheck
from agent.records import Effect, ResultRecorded, ResultsDropped, State, TimelineRewritten
from checks.result import Outcome
from tests.engine.builders import at, catalog, check, engine, incidents, of_type, result, service

LOCATIONS = ("lisboa", "porto", "local")
OFFSET = {"lisboa": 0, "porto": 10, "local": 20}  # each location probes at its own phase
OUTCOMES = {"o": Outcome.OK, "f": Outcome.FAIL, "u": Outcome.UNKNOWN, "d": Outcome.DEGRADED}
CID = "portal/tcp"


def multi(quorum: int = 2) -> Engine:
    located = replace(check("portal"), locations=LOCATIONS, quorum=quorum)
    return engine(catalog(service("portal", located)))


def feed(eng: Engine, plans: dict[str, str], start: float = 0) -> list[Effect]:
    """Plans per location, one letter per minute ("." = nothing), fed in time order."""
    events = []
    for location, plan in plans.items():
        for i, letter in enumerate(plan):
            if letter != ".":
                events.append((start + i * 60 + OFFSET[location], location, letter))
    effects: list[Effect] = []
    for seconds, location, letter in sorted(events):
        reason = f"refused from {location}" if letter == "f" else ""
        probe = result(CID, seconds, OUTCOMES[letter], reason)
        effects += eng.observe(probe, location)
    return effects


def test_failing_below_the_quorum_is_no_outage_but_is_reported() -> None:
    eng = multi()
    effects = feed(eng, {"lisboa": "offfff", "porto": "oooooo", "local": "oooooo"})
    assert incidents(effects) == []
    assert eng.service_status("portal").state is State.UP
    assert eng.failing_locations(CID) == ("lisboa",)
    per_location = eng.location_statuses(CID)
    assert per_location["lisboa"].hard_state is State.DOWN
    assert per_location["porto"].hard_state is State.UP


def test_down_at_the_quorum_opens_one_incident_from_the_earliest_failing_probe() -> None:
    eng = multi()
    effects = feed(eng, {"lisboa": "offfff", "porto": "ooffff", "local": "oooooo"})
    [incident] = incidents(effects)
    assert incident.started_at == at(60)  # lisboa's first failing probe, within one interval
    assert incident.locations == ("lisboa", "porto")
    assert "lisboa, porto" in incident.cause and not incident.retroactive
    assert eng.service_status("portal").state is State.DOWN
    assert eng.failing_locations(CID) == ()  # it is an outage, not a location problem


def test_the_incident_ends_at_the_first_ok_probe_that_broke_the_quorum() -> None:
    eng = multi()
    feed(eng, {"lisboa": "offfff", "porto": "offfff", "local": "oooooo"})
    # porto recovers first (confirm_up 2: ok at 370, 430); lisboa keeps failing
    effects = feed(eng, {"lisboa": "fff", "porto": "ooo", "local": "ooo"}, start=360)
    [incident] = incidents(effects)
    assert incident.ended_at == at(360 + OFFSET["porto"])
    assert eng.service_status("portal").state is State.UP
    assert eng.failing_locations(CID) == ("lisboa",)


def test_a_location_long_down_does_not_pull_the_start_back() -> None:
    eng = multi()
    feed(eng, {"lisboa": "offffffffff", "porto": "ooooooooooo", "local": "ooooooooooo"})
    effects = feed(eng, {"lisboa": "fffff", "porto": "fffff", "local": "ooooo"}, start=660)
    [incident] = incidents(effects)
    assert incident.started_at == at(660 + OFFSET["porto"])  # porto's first failing probe


def test_a_silent_location_is_unknown_and_never_counted_as_up() -> None:
    eng = multi()
    # lisboa goes silent after minute 1; porto fails; only local is UP: 1 UP of the 2 needed
    feed(eng, {"lisboa": "oo", "porto": "ooffffff", "local": "oooooooo"})
    assert eng.service_status("portal").state is State.UNKNOWN
    verdict = eng._checks[CID].verdict_at(at(7 * 60 + 20))  # type: ignore[union-attr]
    assert verdict.unknown == ("lisboa",) and verdict.down == ("porto",)


def test_unknown_results_of_a_location_neither_confirm_nor_break() -> None:
    eng = multi()
    effects = feed(eng, {"lisboa": "ofufuf", "porto": "oooooo", "local": "oooooo"})
    assert incidents(effects) == []
    assert eng.location_statuses(CID)["lisboa"].hard_state is State.DOWN


def test_late_results_apply_at_their_own_instant_and_are_marked_retroactive() -> None:
    eng = multi()
    # porto is cut off from minute 1 on; lisboa fails from minute 2; local stays up
    feed(eng, {"lisboa": "ooffffffff", "porto": "o", "local": "oooooooooo"})
    assert not [i for i in incidents(feed(eng, {"local": "o"}, start=600))]
    # porto's spool arrives: it failed too, from minute 2
    effects = feed(eng, {"porto": "..ffffffff"})
    [incident] = incidents(effects)
    assert incident.retroactive
    assert incident.started_at == at(120)  # lisboa's first failing probe
    assert incident.locations == ("lisboa", "porto")


def test_a_result_from_a_location_the_check_does_not_run_from_is_recorded_only() -> None:
    eng = multi()
    effects = eng.observe(result(CID, 0, Outcome.FAIL, "x"), "viseu")
    assert [type(e) for e in effects] == [ResultRecorded]
    assert of_type(effects, ResultRecorded)[0].location == "viseu"


def test_results_of_a_location_older_than_its_newest_are_stored_but_not_judged() -> None:
    eng = multi()
    feed(eng, {"lisboa": "oo", "porto": "oo", "local": "oo"})
    effects = eng.observe(result(CID, 30, Outcome.FAIL, "old"), "lisboa")
    assert of_type(effects, ResultRecorded)[0].location == "lisboa"
    assert eng.location_statuses(CID)["lisboa"].fail_count == 0


def test_a_single_location_check_ignores_other_locations() -> None:
    eng = engine(catalog(service("portal")))
    effects = eng.observe(result(CID, 0, Outcome.FAIL, "x"), "porto")
    assert [type(e) for e in effects] == [ResultRecorded]
    assert eng.check_status(CID).fail_count == 0


def test_results_a_workers_spool_dropped_are_unknown_time_not_a_silent_gap() -> None:
    # local is down, porto up: lisboa decides. Its results of minutes 2-5 were dropped from
    # its full spool; without the report the core would take lisboa's silence as known UP
    # until 2 x interval + timeout after its last result (60 + 130 s).
    plans = {"lisboa": "oo....oooo", "porto": "oooooooooo", "local": "ffffffffff"}
    told, untold = multi(), multi()
    feed(untold, plans)
    feed(told, plans)
    effects = told.dropped(CID, "lisboa", at(120), at(300), 4)
    assert any(isinstance(e, TimelineRewritten) for e in effects)
    assert of_type(effects, ResultsDropped) == [
        ResultsDropped(CID, "portal", "lisboa", at(120), at(300), 4)
    ]
    for eng, expected in ((untold, State.UP), (told, State.UNKNOWN)):
        machine = eng._checks[CID]
        assert isinstance(machine, MultiLocationCheck)
        assert machine.verdict_at(at(150)).state is expected
        assert machine.verdict_at(at(200)).state is State.UNKNOWN  # the silence, in both
    assert told.dropped(CID, "nowhere", at(120), at(300)) == []
