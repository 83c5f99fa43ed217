"""A location's backlog that arrives after the core restarted (semantics.md §8), on a real store.

The core judges lisboa and its own probes (`local`) while porto is cut off; the core restarts
(a new engine from the same database's snapshot, as `vigia run` does); then porto's spool
arrives with the results of the cut. The late results must update porto's timeline at their
own instants, a verdict they change must be marked retroactive, and time the core already knew
must not turn into unknown time because the restarted engine forgot the other locations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from agent.catalog.model import Catalog
from agent.engine import Engine
from agent.engine.saving import LOCATION_SAVE_EVERY_SECONDS
from agent.maintenance import MaintenanceCalendar
from agent.records import LocationStateSaved, State, Transition
from agent.store.sql import SqlStore
from checks.result import Outcome
from tests.engine.builders import at, catalog, check, of_type, result, service

CID = "portal/tcp"
OFFSET = {"lisboa": 0, "porto": 10, "local": 20}  # each location probes at its own phase
OUTCOMES = {"o": Outcome.OK, "f": Outcome.FAIL}


def estate() -> Catalog:
    located = replace(check("portal"), locations=("lisboa", "porto", "local"), quorum=2)
    return catalog(service("portal", located))


def start(store: SqlStore, cat: Catalog) -> Engine:
    """What `vigia run` does at start: an engine from the store's snapshot."""
    return Engine(cat, MaintenanceCalendar(cat), store.load_snapshot())


def feed(store: SqlStore, eng: Engine, plans: dict[str, str], start: float = 0) -> None:
    """Plans per location, one letter per minute ("." = nothing), applied in time order."""
    events = sorted(
        (start + i * 60 + OFFSET[location], location, letter)
        for location, plan in plans.items()
        for i, letter in enumerate(plan)
        if letter != "."
    )
    for seconds, location, letter in events:
        reason = f"refused from {location}" if letter == "f" else ""
        store.apply(eng.observe(result(CID, seconds, OUTCOMES[letter], reason), location))


def unknown_seconds(store: SqlStore, end: float) -> float:
    """Unknown time of `portal` in [0, end): UNKNOWN steps and recorded silences."""
    steps = store.transitions("portal", at(0), at(end))
    total = timedelta()
    for step, after in zip(steps, [*steps[1:], None], strict=True):
        if step.state is State.UNKNOWN:
            total += (after.at if after else at(end)) - step.at
    for first, last in store.unknown_intervals("portal", at(0), at(end)):
        total += min(last, at(end)) - max(first, at(0))
    return total.total_seconds()


def test_an_all_up_backlog_after_a_restart_leaves_known_time_known(
    open_store: Callable[..., SqlStore],
) -> None:
    cat, store = estate(), open_store()
    first = start(store, cat)
    # porto is cut off after its minute-0 probe; lisboa and local see the portal up
    feed(store, first, {"lisboa": "oooooooooo", "porto": "o", "local": "oooooooooo"})
    before = store.transitions("portal", at(0), at(600))
    assert before == [Transition("portal", at(10), State.UP)]  # two locations heard
    store = open_store()  # kill -9 and start again on the same database
    second = start(store, cat)
    feed(store, second, {"porto": ".ooooooooo"})  # the spool of the cut
    feed(store, second, {"lisboa": "oo", "porto": "oo", "local": "oo"}, start=600)
    assert store.transitions("portal", at(0), at(720)) == before
    assert unknown_seconds(store, 720) == 0
    porto = second.location_statuses(CID)["porto"]
    assert porto.hard_state is State.UP and porto.last_result_at == at(670)


def test_a_failing_backlog_after_a_restart_makes_a_retroactive_incident(
    open_store: Callable[..., SqlStore],
) -> None:
    cat, store = estate(), open_store()
    first = start(store, cat)
    # lisboa fails from minute 2: below the quorum, a location problem, no incident
    feed(store, first, {"lisboa": "ooffffffff", "porto": "o", "local": "oooooooooo"})
    assert store.incidents() == []
    store = open_store()  # kill -9 and start again on the same database
    second = start(store, cat)
    # porto's spool: it failed too, from minute 2. With lisboa that is the quorum.
    feed(store, second, {"porto": "..ffffffff"})
    [incident] = store.incidents()
    assert incident.retroactive
    assert incident.started_at == at(120)  # lisboa's first failing probe
    assert incident.locations == ("lisboa", "porto")
    assert second.location_statuses(CID)["porto"].hard_state is State.DOWN
    steps = store.transitions("portal", at(0), at(600))
    assert steps == [
        Transition("portal", at(10), State.UP),
        Transition("portal", at(120), State.DOWN),
    ]
    assert unknown_seconds(store, 600) == 0


def test_a_core_down_while_its_workers_spool_makes_no_time_unknown(
    open_store: Callable[..., SqlStore],
) -> None:
    cat, store = estate(), open_store()
    first = start(store, cat)
    feed(store, first, {"lisboa": "oooooooooo", "porto": "oooooooooo", "local": "oooooooooo"})
    # the core is down from minute 10 to 15 (longer than 2 x interval + timeout): its own
    # probes stop, both workers spool; the states it saved lag their newest results
    saved = store.load_snapshot().locations[CID]
    assert saved["lisboa"].status.last_result_at == at(540)  # from the stored results
    store = open_store()
    second = start(store, cat)
    feed(store, second, {"lisboa": "ooooo", "porto": "ooooo"}, start=600)  # the spools
    feed(store, second, {"lisboa": "oo", "porto": "oo", "local": "oo"}, start=900)
    assert store.transitions("portal", at(0), at(1020)) == [Transition("portal", at(10), State.UP)]
    assert unknown_seconds(store, 1020) == 0
    local = second.location_statuses(CID)["local"]
    assert local.last_result_at == at(980)


def test_a_location_state_is_saved_on_change_and_otherwise_rarely() -> None:
    cat = estate()
    eng = Engine(cat, MaintenanceCalendar(cat))
    saved = []
    for minute in range(13):  # lisboa alone: ok for 11 minutes, then two failures
        outcome = Outcome.OK if minute < 11 else Outcome.FAIL
        effects = eng.observe(result(CID, minute * 60, outcome, "refused"), "lisboa")
        saved += [s.state.status for s in of_type(effects, LocationStateSaved)]
    assert LOCATION_SAVE_EVERY_SECONDS == 600
    assert [(s.last_result_at, s.fail_count) for s in saved] == [
        (at(0), 0),  # the first result
        (at(600), 0),  # only the newest instant moved: once the period is over
        (at(660), 1),  # a failure (a change): at once
        (at(720), 2),
    ]
    states = {s.state.location: s.state for s in of_type(eng.shutdown(at(730)), LocationStateSaved)}
    assert states["lisboa"].status.last_result_at == at(720)
    assert set(states) == {"lisboa", "porto", "local"}
