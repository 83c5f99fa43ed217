"""The `Store` contract, run on every backend (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from agent.records import (
    CheckStatus,
    CheckStatusSaved,
    CheckStep,
    Effect,
    FlappingChanged,
    Fragment,
    Incident,
    IncidentSaved,
    ResultRecorded,
    ServiceStatus,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
    UnknownRecorded,
)
from agent.store import schema
from agent.store.base import Store
from agent.store.errors import UnknownIncidentError
from agent.store.sql import SqlStore
from checks.result import Outcome, ProbeResult

T0 = datetime(2024, 5, 1, 12, 0, 0, 123457, tzinfo=UTC)
S = timedelta(seconds=1)
H = timedelta(hours=1)


def result(check: str = "web/http", at: datetime = T0, **kw: object) -> ResultRecorded:
    values: dict[str, object] = {"duration": 0.2, "outcome": Outcome.OK} | kw
    in_maintenance = bool(values.pop("in_maintenance", False))
    return ResultRecorded(ProbeResult(check, at, **values), in_maintenance)  # type: ignore[arg-type]


def incident(id: int = 1, service: str = "web", start: datetime = T0, **kw: object) -> Incident:
    return Incident(id, service, "platina", True, start, start + 30 * S, **kw)  # type: ignore[arg-type]


def full_check_status() -> CheckStatus:
    return CheckStatus(
        check="web/http",
        service="web",
        hard_state=State.DOWN,
        since=T0,
        fail_count=3,
        fail_started_at=T0 - 60 * S,
        fail_reason="HTTP 503",
        ok_count=1,
        ok_started_at=T0 + 5 * S,
        last_outcome="ok",
        last_result_at=T0 + 6 * S,
        last_reason="fine",
        history=(CheckStep(T0, State.DOWN, "HTTP 503"), CheckStep(T0 + 5 * S, State.UP)),
    )


def full_service_status() -> ServiceStatus:
    return ServiceStatus(
        service="web",
        state=State.DEGRADED,
        since=T0,
        last_seen_at=T0 + 7 * S,
        flapping=True,
        flap_history=("up", "down", "up"),
        open_incident=4,
    )


def full_incident() -> Incident:
    return Incident(
        id=7,
        service="web",
        tier="ouro",
        pcn=True,
        started_at=T0,
        confirmed_at=T0 + 61 * S,
        ended_at=T0 + 3600 * S,
        restore_seconds=3000.5,
        maintenance_seconds=599.5,
        cause="web/http: HTTP 503",
        root_cause="dns",
        inhibited=True,
        fragments=(Fragment(T0, T0 + 61 * S, T0 + 100 * S), Fragment(T0 + 200 * S, T0 + 230 * S)),
        locations=("lisboa", "porto"),
        retroactive=True,
    )


@pytest.mark.parametrize("sample", [full_check_status, full_service_status, full_incident])
def test_round_trip_samples_set_every_field_away_from_its_default(sample: object) -> None:
    # Guards the round-trip tests below: a field the engine adds must be added to the sample.
    record = sample()  # type: ignore[operator]
    for f in fields(record):
        if f.default is not MISSING:
            assert getattr(record, f.name) != f.default, f"{f.name} left at its default"


def test_sql_store_satisfies_the_store_protocol(store: SqlStore) -> None:
    assert isinstance(store, SqlStore)
    typed: Store = store  # mypy checks the structural match
    assert typed is store


# ---- results and rollups -------------------------------------------------------------------


def test_result_round_trips_with_exact_microseconds(store: SqlStore) -> None:
    measurements = {"status": 503, "tls_days": 12.5, "ip": "10.0.0.1", "h2": True, "san": ["a"]}
    store.apply([result(outcome=Outcome.FAIL, reason="HTTP 503", measurements=measurements)])
    store.apply([result("web/tcp", T0 + timedelta(microseconds=1), in_maintenance=True)])
    stored = store.results()
    assert [s.result.started_at for s in stored] == [T0, T0 + timedelta(microseconds=1)]
    first = stored[0].result
    assert (first.check, first.outcome, first.reason) == ("web/http", Outcome.FAIL, "HTTP 503")
    assert first.measurements == measurements
    assert first.started_at.tzinfo is UTC
    assert [s.in_maintenance for s in stored] == [False, True]


def test_results_are_filtered_oldest_first_and_limited(store: SqlStore) -> None:
    store.apply([result("web/http", T0 + i * S) for i in reversed(range(5))])
    store.apply([result("api/http", T0 + 2 * S)])
    assert [s.result.started_at for s in store.results(limit=2)] == [T0, T0 + S]
    web = store.results(service="web", start=T0 + S, end=T0 + 3 * S)
    assert [s.result.started_at for s in web] == [T0 + S, T0 + 2 * S]
    assert [s.result.check for s in store.results(check="api/http")] == ["api/http"]


def test_non_utc_input_comes_back_as_the_same_instant_in_utc(store: SqlStore) -> None:
    lisbon_summer = timezone(timedelta(hours=1))
    store.apply([result(at=T0.astimezone(lisbon_summer))])
    (stored,) = store.results()
    assert stored.result.started_at == T0 and stored.result.started_at.tzinfo is UTC


def test_naive_datetimes_are_refused_and_the_batch_is_rolled_back(store: SqlStore) -> None:
    bad = IncidentSaved(incident(start=T0.replace(tzinfo=None)))
    with pytest.raises(StatementError, match="naive"):
        store.apply([result(), bad])
    assert store.results() == []


def test_rollups_count_outcomes_and_per_bucket_latency_by_hour(store: SqlStore) -> None:
    hour = T0.replace(minute=0, second=0, microsecond=0)
    store.apply(
        [
            result(at=hour, duration=0.05),  # on a bound: counts in that bucket (le semantics)
            result(at=hour + S, duration=0.3, outcome=Outcome.DEGRADED),
            result(at=hour + 2 * S, duration=20.0, outcome=Outcome.FAIL),
            result(at=hour + H, duration=0.01, outcome=Outcome.UNKNOWN),
        ]
    )
    first, second = store.check_rollups(service="web", start=hour, end=hour + 2 * H)
    assert (first.hour, first.ok, first.degraded, first.fail, first.unknown) == (hour, 1, 1, 1, 0)
    assert first.latency_sum == pytest.approx(20.35)
    assert first.latency_buckets == (1, 0, 0, 1, 0, 0, 0, 0, 1)
    assert (second.hour, second.unknown, second.latency_buckets[0]) == (hour + H, 1, 1)
    assert store.check_rollups(service="api", start=hour, end=hour + 2 * H) == []


def test_reapplying_a_batch_stores_nothing_twice(store: SqlStore) -> None:
    batch: list[Effect] = [
        result(),
        result(at=T0 + S),
        TimelineRewritten("web", T0, (Transition("web", T0, State.DOWN),)),
        UnknownRecorded("web", T0 - H, T0),
        IncidentSaved(incident()),
        FlappingChanged("web", T0, True, 25.0),
    ]
    store.apply(batch)
    store.apply(batch)
    assert len(store.results()) == 2
    (rollup,) = store.check_rollups(service="web", start=T0 - H, end=T0 + H)
    assert rollup.ok == 2
    assert len(store.transitions("web", T0 - H, T0 + H)) == 1
    assert store.unknown_intervals("web", T0 - 2 * H, T0 + H) == [(T0 - H, T0)]
    assert len(store.incidents()) == 1
    assert len(store.flapping_changes("web", T0 - H, T0 + H)) == 1


def test_a_batch_partly_stored_already_rolls_up_only_its_new_results(store: SqlStore) -> None:
    store.apply([result(), result(at=T0 + S, outcome=Outcome.FAIL)])
    # The same two again with a third, new one: only the new one may be counted.
    store.apply([result(), result(at=T0 + S, outcome=Outcome.FAIL), result(at=T0 + 2 * S)])
    assert [s.result.started_at for s in store.results()] == [T0, T0 + S, T0 + 2 * S]
    (rollup,) = store.check_rollups(service="web", start=T0 - H, end=T0 + H)
    assert (rollup.ok, rollup.fail) == (2, 1)
    assert rollup.latency_sum == pytest.approx(0.6)


def test_a_result_repeated_within_one_batch_is_counted_once(store: SqlStore) -> None:
    store.apply([result(), result()])
    assert len(store.results()) == 1
    assert store.check_rollups(service="web", start=T0, end=T0 + H)[0].ok == 1


def test_prune_deletes_old_raw_results_but_keeps_rollups(store: SqlStore) -> None:
    store.apply([result(at=T0 - timedelta(days=40)), result(at=T0)])
    store.apply([TimelineRewritten("web", T0, (Transition("web", T0, State.UP),))])
    assert store.prune(T0, raw_retention_days=30) == 1
    assert [s.result.started_at for s in store.results()] == [T0]
    old = T0 - timedelta(days=40)
    assert store.services_observed(old, old + S) == {"web"}
    assert len(store.check_rollups(service=None, start=old - H, end=T0 + H)) == 2
    assert store.transitions("web", T0, T0 + S)[0].at == T0


def test_services_observed_counts_every_hour_overlapping_the_period(store: SqlStore) -> None:
    hour = T0.replace(minute=0, second=0, microsecond=0)
    store.apply([result("web/http", hour + 10 * S), result("api/tcp", hour + 2 * H)])
    assert store.services_observed(hour, hour + H) == {"web"}
    assert store.services_observed(hour + 30 * S, hour + 3 * H) == {"web", "api"}
    assert store.services_observed(hour + H, hour + 2 * H) == set()


# ---- timelines -----------------------------------------------------------------------------


def steps(service: str, *pairs: tuple[int, State]) -> tuple[Transition, ...]:
    return tuple(Transition(service, T0 + s * S, state) for s, state in pairs)


def test_timeline_rewrite_replaces_transitions_at_or_after_since(store: SqlStore) -> None:
    store.apply([TimelineRewritten("web", T0, steps("web", (0, State.UP), (10, State.DOWN)))])
    store.apply([TimelineRewritten("api", T0, steps("api", (10, State.DOWN)))])
    # Backdating: the DOWN at +10 s really began at +5 s, and the service is UP again at +20 s.
    rewrite = steps("web", (5, State.DOWN), (20, State.UP))
    store.apply([TimelineRewritten("web", T0 + 5 * S, rewrite)])
    got = store.transitions("web", T0, T0 + H)
    assert [(s.at, s.state) for s in got] == [
        (T0, State.UP),
        (T0 + 5 * S, State.DOWN),
        (T0 + 20 * S, State.UP),
    ]
    assert len(store.transitions("api", T0, T0 + H)) == 1


REWRITE_SEQUENCES = {
    "later since": [
        TimelineRewritten("web", T0, steps("web", (0, State.UP), (10, State.DOWN))),
        TimelineRewritten("web", T0 + 5 * S, steps("web", (5, State.DOWN), (20, State.UP))),
    ],
    "earlier since": [
        TimelineRewritten("web", T0 + 10 * S, steps("web", (10, State.DOWN), (30, State.UP))),
        TimelineRewritten("web", T0 + 5 * S, steps("web", (5, State.DOWN))),
        TimelineRewritten("web", T0 + 30 * S, steps("web", (30, State.UP), (40, State.DOWN))),
    ],
    "same instant again": [
        TimelineRewritten("web", T0, steps("web", (0, State.DOWN))),
        TimelineRewritten("web", T0, steps("web", (0, State.UP))),
    ],
}


@pytest.mark.parametrize("sequence", REWRITE_SEQUENCES.values(), ids=list(REWRITE_SEQUENCES))
def test_rewrites_of_one_service_in_one_batch_equal_applying_them_in_turn(
    store: SqlStore, sequence: list[TimelineRewritten]
) -> None:
    # "web" has history before the batch; "api" is another service in the same batch.
    store.apply([TimelineRewritten("web", T0 - H, steps("web", (-3600, State.UP), (7, State.UP)))])
    store.apply([*sequence, TimelineRewritten("api", T0, steps("api", (10, State.DOWN)))])
    expected: dict[datetime, State] = {T0 - H: State.UP, T0 + 7 * S: State.UP}
    for rewrite in sequence:  # what applying them one by one leaves
        expected = {at: st for at, st in expected.items() if at < rewrite.since}
        expected.update({step.at: step.state for step in rewrite.steps})
    got = store.transitions("web", T0 - H, T0 + H)
    assert [(s.at, s.state) for s in got] == sorted(expected.items())
    assert [s.state for s in store.transitions("api", T0, T0 + H)] == [State.DOWN]


def test_transitions_include_the_last_one_before_start(store: SqlStore) -> None:
    timeline = steps("web", (0, State.UP), (10, State.DOWN), (20, State.UP), (30, State.DOWN))
    store.apply([TimelineRewritten("web", T0, timeline)])
    got = store.transitions("web", T0 + 15 * S, T0 + 30 * S)
    assert [(s.at, s.state) for s in got] == [(T0 + 10 * S, State.DOWN), (T0 + 20 * S, State.UP)]
    assert store.transitions("web", T0 - H, T0) == []


def test_unknown_intervals_overlapping_the_period_come_back_unclipped_and_sorted(
    store: SqlStore,
) -> None:
    store.apply(
        [
            UnknownRecorded("web", T0 + 100 * S, T0 + 200 * S),
            UnknownRecorded("web", T0, T0 + 50 * S),
            UnknownRecorded("web", T0 + 300 * S, T0 + 400 * S),
            UnknownRecorded("api", T0, T0 + 50 * S),
        ]
    )
    got = store.unknown_intervals("web", T0 + 40 * S, T0 + 300 * S)
    assert got == [(T0, T0 + 50 * S), (T0 + 100 * S, T0 + 200 * S)]


# ---- statuses and snapshot -----------------------------------------------------------------


def test_statuses_round_trip_every_field(store: SqlStore) -> None:
    store.apply([CheckStatusSaved(full_check_status()), ServiceStatusSaved(full_service_status())])
    assert store.check_statuses() == {"web/http": full_check_status()}
    assert store.service_statuses() == {"web": full_service_status()}


def test_the_last_status_saved_for_a_key_wins(store: SqlStore) -> None:
    up = ServiceStatus("web", State.UP, T0, T0)
    down = ServiceStatus("web", State.DOWN, T0 + S, T0 + S)
    store.apply([ServiceStatusSaved(up), ServiceStatusSaved(down)])
    assert store.service_statuses()["web"] == down
    store.apply([ServiceStatusSaved(up)])
    assert store.service_statuses()["web"] == up


def test_snapshot_of_an_empty_store_starts_incident_ids_at_one(store: SqlStore) -> None:
    snapshot = store.load_snapshot()
    assert (snapshot.checks, snapshot.services, snapshot.open_incidents) == ({}, {}, {})
    assert snapshot.next_incident_id == 1


def test_snapshot_restores_what_the_engine_needs_after_a_restart(store: SqlStore) -> None:
    flips = [(i, State.DOWN if i % 2 else State.UP) for i in range(12)]
    closed_old = incident(1, start=T0, ended_at=T0 + 60 * S)
    closed_new = incident(2, start=T0 + H, ended_at=T0 + H + 60 * S)
    still_open = incident(3, start=T0 + 2 * H)
    other = incident(9, service="api", start=T0, ended_at=T0 + S)
    store.apply(
        [
            TimelineRewritten("web", T0, steps("web", *flips)),
            *(IncidentSaved(i) for i in (closed_old, closed_new, still_open, other)),
            CheckStatusSaved(full_check_status()),
            ServiceStatusSaved(full_service_status()),
        ]
    )
    snapshot = store.load_snapshot()
    assert snapshot.checks == {"web/http": full_check_status()}
    assert snapshot.services == {"web": full_service_status()}
    assert snapshot.open_incidents == {"web": still_open}
    assert snapshot.last_incidents == {"web": closed_new, "api": other}
    recent = snapshot.recent_transitions["web"]
    assert [s.at for s in recent] == [T0 + i * S for i in range(2, 12)]  # last 10, oldest first
    assert snapshot.next_incident_id == 10


# ---- incidents and annotations -------------------------------------------------------------


def test_incident_round_trips_every_field(store: SqlStore) -> None:
    store.apply([IncidentSaved(full_incident())])
    assert store.incident(7) == full_incident()
    assert store.incident(8) is None


def test_every_incident_field_has_a_column() -> None:
    assert {f.name for f in fields(Incident)} <= set(schema.incidents.c.keys())


def test_saving_an_incident_again_replaces_it(store: SqlStore) -> None:
    store.apply([IncidentSaved(incident(fragments=(Fragment(T0, T0 + S),)))])
    closed = incident(ended_at=T0 + H, restore_seconds=3600.0)
    store.apply([IncidentSaved(closed)])
    assert store.incidents() == [closed]


def test_incidents_overlapping_a_period_with_open_ones_running_to_infinity(
    store: SqlStore,
) -> None:
    before = incident(1, start=T0 - 2 * H, ended_at=T0 - H)
    crossing = incident(2, start=T0 - 10 * S, ended_at=T0 + 10 * S)
    other_service = incident(3, service="api", start=T0 + S, ended_at=T0 + 2 * S)
    still_open = incident(4, start=T0 - 3 * H)
    after = incident(5, start=T0 + H, ended_at=T0 + 2 * H)
    store.apply([IncidentSaved(i) for i in (before, crossing, other_service, still_open, after)])
    got = store.incidents(start=T0 - H, end=T0 + H)  # [start, end): touching edges excluded
    assert [i.id for i in got] == [4, 2, 3]
    assert [i.id for i in store.incidents(service="web", start=T0, end=T0 + S)] == [4, 2]
    assert [i.id for i in store.incidents(open_only=True)] == [4]
    assert [i.id for i in store.incidents()] == [4, 1, 2, 3, 5]


def test_annotations_are_appended_in_order(store: SqlStore) -> None:
    store.apply([IncidentSaved(incident())])
    first = store.annotate(1, "cause", "disk full", "ana", T0)
    second = store.annotate(1, "false_alarm", "no", "rui", T0 - S)
    assert second.id > first.id
    assert store.annotations(1) == [first, second]
    assert (first.field, first.text, first.author, first.created_at) == (
        "cause",
        "disk full",
        "ana",
        T0,
    )
    assert store.annotations(2) == []


def test_annotating_an_unknown_incident_is_refused(store: SqlStore) -> None:
    with pytest.raises(UnknownIncidentError, match="incident 42"):
        store.annotate(42, "note", "?", "ana", T0)


# ---- maintenance, heartbeats, flapping -----------------------------------------------------


def test_maintenance_windows_are_added_listed_by_overlap_and_cancelled(store: SqlStore) -> None:
    planned = store.add_window("web", T0 + H, T0 + 2 * H, "upgrade", "ana", T0)
    late = store.add_window("web", T0 - H, T0, "oops", "rui", T0 + S)
    api = store.add_window("api", T0 + H, T0 + 2 * H, "db", "ana", T0)
    assert planned.id < late.id < api.id
    assert late.retroactive and not planned.retroactive
    assert store.windows() == [late, planned, api]
    assert store.windows(service="web", start=T0, end=T0 + 90 * 60 * S) == [planned]
    cancelled = store.cancel_window(planned.id, T0 + 10 * S)
    assert cancelled is not None and cancelled.cancelled_at == T0 + 10 * S
    assert store.cancel_window(planned.id, T0 + 20 * S) == cancelled  # first cancellation stays
    assert store.cancel_window(999, T0) is None
    assert store.windows(service="web") == [late]
    assert store.windows(service="web", include_cancelled=True) == [late, cancelled]


def test_last_agent_heartbeat_is_the_newest_recorded(store: SqlStore) -> None:
    assert store.last_agent_heartbeat() is None
    store.record_agent_heartbeat(T0)
    store.record_agent_heartbeat(T0 + 30 * S)
    assert store.last_agent_heartbeat() == T0 + 30 * S


def test_flapping_changes_are_kept_in_order(store: SqlStore) -> None:
    start, stop = FlappingChanged("web", T0, True, 22.5), FlappingChanged("web", T0 + H, False, 4.0)
    store.apply([stop, start, FlappingChanged("api", T0, True, 30.0)])
    assert store.flapping_changes("web", T0, T0 + 2 * H) == [start, stop]
