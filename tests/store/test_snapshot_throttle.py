"""Statuses are saved less often than results (SAVE_EVERY_SECONDS, agent/engine/saving.py), yet
a restart from the store resumes exactly: the newest result instants come from the stored probe
results."""

from __future__ import annotations

from dataclasses import replace

from agent.catalog.model import Catalog
from agent.engine import Engine
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    CheckStatusSaved,
    Effect,
    ServiceStatusSaved,
    UnknownRecorded,
)
from agent.store.sql import SqlStore
from tests.engine.builders import at, catalog, check, feed, of_type, service


def _catalog(interval: float = 30) -> Catalog:
    web = check("web", "http")
    web = replace(web, timing=replace(web.timing, interval=interval))
    return catalog(service("web", web))


def _engine(cat: Catalog, store: SqlStore | None = None) -> Engine:
    snapshot = store.load_snapshot() if store is not None else None
    return Engine(cat, MaintenanceCalendar(cat), snapshot)


def test_a_status_whose_only_change_is_the_newest_instant_is_saved_at_most_every_period() -> None:
    eng = _engine(_catalog(interval=30))
    effects = feed(eng, "web/http", "oooooo", step=30)  # 0, 30, ..., 150
    saved = [s.status.last_result_at for s in of_type(effects, CheckStatusSaved)]
    assert saved == [at(0), at(60), at(120)]  # every 1.5 intervals at most, not every result
    seen = [s.status.last_seen_at for s in of_type(effects, ServiceStatusSaved)]
    assert seen == [at(0), at(60), at(120)]


def test_any_other_change_is_saved_with_the_result_that_caused_it() -> None:
    eng = _engine(_catalog(interval=30))
    feed(eng, "web/http", "oo", step=30)  # 0 (saved), 30 (not)
    effects = feed(eng, "web/http", "ffff", start=40, step=5)  # 40 .. 55: run counters move
    counts = [s.status.fail_count for s in of_type(effects, CheckStatusSaved)]
    assert counts == [1, 2, 3, 4]
    flaps = [s.status.flap_history[-1] for s in of_type(effects, ServiceStatusSaved)]
    assert flaps[0] == "down"


def test_shutdown_saves_every_status() -> None:
    eng = _engine(_catalog(interval=30))
    feed(eng, "web/http", "oo", step=30)
    effects = eng.shutdown(at(40))
    [check_saved] = of_type(effects, CheckStatusSaved)
    [service_saved] = of_type(effects, ServiceStatusSaved)
    assert check_saved.status.last_result_at == at(30)
    assert service_saved.status.last_seen_at == at(30)


def test_restart_after_kill_measures_the_gap_from_the_true_last_result(
    store: SqlStore,
) -> None:
    cat = _catalog(interval=30)
    first = _engine(cat)
    effects: list[Effect] = []
    effects += feed(first, "web/http", "oooo", step=30)  # 0 .. 90: statuses saved at 0, 60
    effects += feed(first, "web/http", "u", start=100)  # unknown: not a seen result
    store.apply(effects)  # then kill -9: no shutdown effects
    stored = store.check_statuses()["web/http"]
    assert stored.last_result_at == at(60)  # the stored row lags ...
    snapshot = store.load_snapshot()
    assert snapshot.checks["web/http"].last_result_at == at(90)  # ... the snapshot does not
    assert snapshot.checks["web/http"] == replace(stored, last_result_at=at(90))
    assert snapshot.services["web"].last_seen_at == at(90)
    second = _engine(cat, store)
    gap = feed(second, "web/http", "o", start=900)
    assert of_type(gap, UnknownRecorded) == [UnknownRecorded("web", at(90), at(900))]
    assert second.check_status("web/http").last_result_at == at(900)


def test_restart_after_a_clean_shutdown_reads_the_saved_statuses(store: SqlStore) -> None:
    cat = _catalog(interval=30)
    first = _engine(cat)
    store.apply(feed(first, "web/http", "ooo", step=30))
    store.apply(first.shutdown(at(70)))
    assert store.load_snapshot().services["web"] == first.service_status("web")
    assert store.load_snapshot().checks["web/http"] == first.check_status("web/http")
