"""Incident ids come from the database (issue #15): two stores on one database, like two nodes
of a cluster, never hand out the same id; a clean shutdown leaves no gap; the engine numbers
its incidents with them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text

from agent.engine.ids import IncidentIds
from agent.records import Incident, IncidentSaved
from agent.store.sql import SqlStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _incident(incident_id: int) -> Incident:
    return Incident(
        id=incident_id, service="web", tier="gold", pcn=False, started_at=T0,
        confirmed_at=T0, ended_at=None, restore_seconds=None, maintenance_seconds=0.0,
        cause="web/http: refused", root_cause=None, inhibited=False, fragments=(),
    )  # fmt: skip


def test_two_stores_on_one_database_never_hand_out_the_same_id(
    open_store: Callable[..., SqlStore],
) -> None:
    first, second = open_store(), open_store()
    taken: list[int] = []
    lock = threading.Lock()

    def reserve(store: SqlStore) -> None:
        for _ in range(20):
            ids = store.reserve_ids(3)
            with lock:
                taken.extend(ids)

    threads = [threading.Thread(target=reserve, args=(s,)) for s in (first, second, first)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 180
    assert len(set(taken)) == 180  # no id twice
    assert sorted(taken) == list(range(1, 181))  # and, with nobody crashing, no gap


def test_ids_continue_after_the_incidents_already_stored(store: SqlStore) -> None:
    store.apply([IncidentSaved(_incident(41))])
    assert store.reserve_ids(2) == range(42, 44)


def test_a_database_with_incidents_from_before_the_counter_continues_them(
    store: SqlStore,
) -> None:
    store.apply([IncidentSaved(_incident(7))])
    with store.transaction(write=True) as conn:  # as migration 11 meets an older database
        conn.execute(text("DELETE FROM id_counters"))
    assert store.reserve_ids(1) == range(8, 9)


def test_a_clean_shutdown_gives_the_unused_ids_back(store: SqlStore) -> None:
    ids = IncidentIds(store.reserve_ids, store.give_back_ids, block=8)
    ids.prefetch()
    assert [ids(), ids()] == [1, 2]
    ids.close()
    assert store.reserve_ids(1) == range(3, 4)  # the restarted node goes on at 3


def test_ids_given_back_after_another_node_reserved_are_kept_as_a_gap(
    open_store: Callable[..., SqlStore],
) -> None:
    mine, other = open_store(), open_store()
    ids = IncidentIds(mine.reserve_ids, mine.give_back_ids, block=4)
    ids.prefetch()  # 1..4
    assert other.reserve_ids(2) == range(5, 7)
    assert ids() == 1
    ids.close()  # 2..4 are not the counter's tail any more: giving them back would collide
    assert other.reserve_ids(1) == range(7, 8)


def test_a_burst_larger_than_the_blocks_still_gets_distinct_ids(store: SqlStore) -> None:
    ids = IncidentIds(store.reserve_ids, store.give_back_ids, block=2)
    ids.prefetch()
    drawn = [ids() for _ in range(50)]
    assert len(set(drawn)) == 50
    other = store.reserve_ids(1)
    assert other.start not in drawn
