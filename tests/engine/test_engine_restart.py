"""Restart from a snapshot built from the emitted effects, and catalogue reloads."""

from __future__ import annotations

from agent.catalog.model import Catalog
from agent.engine import Engine
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    CheckStatusSaved,
    Effect,
    IncidentSaved,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
    UnknownRecorded,
)
from checks.result import Outcome
from tests.engine.builders import (
    MemoryStore,
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


def restarted(cat: Catalog, store: MemoryStore) -> Engine:
    return Engine(cat, MaintenanceCalendar(cat), store.snapshot())


def run(store: MemoryStore, effects: list[Effect]) -> list[Effect]:
    store.apply(effects)
    return effects


def test_restart_continues_the_same_incident_and_records_the_gap_as_unknown() -> None:
    cat, store = catalog(service("portal")), MemoryStore()
    first = engine(cat)
    run(store, feed(first, "portal/tcp", "offf"))  # then kill -9: no shutdown
    second = restarted(cat, store)
    assert second.open_incident("portal") == store.incidents[1]
    gap = run(store, feed(second, "portal/tcp", "f", start=900))
    assert of_type(gap, UnknownRecorded) == [UnknownRecorded("portal", at(180), at(900))]
    run(store, feed(second, "portal/tcp", "oo", start=960))
    [incident] = store.incidents.values()
    assert (incident.id, incident.started_at, incident.ended_at) == (1, at(60), at(960))
    assert store.transitions["portal"] == [
        Transition("portal", at(0), State.UP),
        Transition("portal", at(60), State.DOWN),
        Transition("portal", at(960), State.UP),
    ]


def test_restart_continues_the_fail_run_and_backdates_across_it() -> None:
    cat, store = catalog(service("portal")), MemoryStore()
    first = engine(cat)
    run(store, feed(first, "portal/tcp", "off"))
    second = restarted(cat, store)
    effects = run(store, feed(second, "portal/tcp", "f", start=180))
    [incident] = incidents(effects)
    assert (incident.id, incident.started_at, incident.confirmed_at) == (1, at(60), at(180.5))


def test_restart_keeps_check_histories_for_later_backdated_rewrites() -> None:
    a, b = check("portal", "a", confirm_down=1), check("portal", "b", confirm_down=1)
    cat, store = catalog(service("portal", a, b)), MemoryStore()
    first = engine(cat)
    run(store, feed(first, "portal/a", "f", start=0))
    run(store, feed(first, "portal/b", "fo", start=1))  # b's ok run starts at 61
    run(store, feed(first, "portal/a", "oo", start=100))  # a UP from 100
    second = restarted(cat, store)
    effects = run(store, feed(second, "portal/b", "o", start=170))
    assert of_type(effects, TimelineRewritten) == [
        TimelineRewritten("portal", at(61), (Transition("portal", at(100), State.UP),))
    ]
    assert store.incidents[1].ended_at == at(100)


def test_incident_ids_continue_after_a_restart() -> None:
    cat = catalog(service("portal", check("portal", confirm_down=1, confirm_up=1)))
    store, first = MemoryStore(), engine(cat)
    run(store, feed(first, "portal/tcp", "ofo"))
    second = restarted(cat, store)
    effects = run(store, feed(second, "portal/tcp", "fo", start=180))
    assert [i.id for i in incidents(effects)] == [2]


def test_shutdown_saves_every_status() -> None:
    cat = catalog(service("portal"), service("mail"))
    eng = engine(cat)
    feed(eng, "portal/tcp", "o")
    effects = eng.shutdown(at(30))
    assert [type(e) for e in effects] == [
        CheckStatusSaved,
        CheckStatusSaved,
        ServiceStatusSaved,
        ServiceStatusSaved,
    ]
    assert effects[0] == CheckStatusSaved(eng.check_status("portal/tcp"))


def test_reload_keeps_state_of_unchanged_checks_and_starts_new_ones_unknown() -> None:
    old = catalog(service("portal"), service("mail"))
    eng = engine(old)
    feed(eng, "portal/tcp", "off")
    feed(eng, "mail/tcp", "o")
    effects = eng.reload(catalog(service("portal"), service("intranet")))
    assert effects == [
        CheckStatusSaved(eng.check_status("intranet/tcp")),
        ServiceStatusSaved(eng.service_status("intranet")),
    ]
    assert eng.check_status("intranet/tcp").hard_state is State.UNKNOWN
    assert eng.service_status("intranet").state is State.UNKNOWN
    confirmed = feed(eng, "portal/tcp", "f", start=180)  # the fail run survived the reload
    assert [i.started_at for i in incidents(confirmed)] == [at(60)]


def test_reload_forgets_removed_services() -> None:
    eng = engine(catalog(service("portal"), service("mail")))
    eng.reload(catalog(service("portal")))
    effects = eng.observe(result("mail/tcp", 0, Outcome.FAIL, "refused"))
    assert [type(e).__name__ for e in effects] == ["ResultRecorded"]


def test_reload_applies_new_confirm_counts_from_now_on() -> None:
    eng = engine(catalog(service("portal")))
    feed(eng, "portal/tcp", "of")
    eng.reload(catalog(service("portal", check("portal", confirm_down=2))))
    effects = feed(eng, "portal/tcp", "f", start=120)
    assert [(i.started_at, i.confirmed_at) for i in incidents(effects)] == [(at(60), at(120.5))]
    assert of_type(effects, IncidentSaved)[0].incident.cause == "portal/tcp: connection refused"
