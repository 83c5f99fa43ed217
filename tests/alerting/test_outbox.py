"""The outbox on SQLite and PostgreSQL: stored before sending, retried, never dropped, ordered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, inspect

from agent.store import migrations, schema
from agent.store.sql import SqlStore
from alerting import tables
from alerting.notification import AlertStatus
from alerting.outbox import Backoff, Outbox, OutboxState
from tests.alerting.servers import T0, notification
from tests.store.conftest import open_store, store, store_url  # noqa: F401  (fixtures)


@pytest.fixture
def outbox(store: SqlStore) -> Outbox:  # noqa: F811
    return Outbox(store, random_draw=lambda: 0.0)  # no jitter: exact delays


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_enqueue_stores_one_pending_row_per_notification_and_receiver(outbox: Outbox) -> None:
    firing = notification()
    assert outbox.enqueue([firing], ["cco-am", "cco-mail"], T0) == 2
    items = outbox.due(T0)
    assert [(i.receiver, i.state, i.attempts) for i in items] == [
        ("cco-am", OutboxState.PENDING, 0),
        ("cco-mail", OutboxState.PENDING, 0),
    ]
    assert items[0].notification == firing and outbox.backlog() == 2


def test_a_notification_round_trips_through_the_store_unchanged(outbox: Outbox) -> None:
    resolved = notification(
        status=AlertStatus.RESOLVED,
        ends_at=T0 + timedelta(minutes=12, microseconds=7),
        duration_seconds=720.5,
        extra_label="ção ✓",
    )
    outbox.enqueue([resolved], ["x"], T0)
    assert outbox.due(T0)[0].notification == resolved


def test_rows_survive_reopening_the_store(
    outbox: Outbox,
    open_store: Callable[..., SqlStore],  # noqa: F811
) -> None:
    outbox.enqueue([notification()], ["cco-am"], T0)
    reopened = Outbox(open_store())
    assert [i.receiver for i in reopened.due(T0)] == ["cco-am"]


def test_delivered_rows_leave_the_queue_and_stay_in_history(outbox: Outbox) -> None:
    outbox.enqueue([notification()], ["a", "b"], T0)
    first, second = outbox.due(T0)
    outbox.mark_delivered([first.id], _at(1))
    assert [i.id for i in outbox.due(_at(1))] == [second.id]
    history = outbox.history("service-down:portal")
    assert [(i.receiver, i.state, i.delivered_at) for i in history] == [
        ("a", OutboxState.DELIVERED, _at(1)),
        ("b", OutboxState.PENDING, None),
    ]
    assert outbox.backlog() == 1


def test_transient_failures_back_off_exponentially_up_to_the_cap(outbox: Outbox) -> None:
    outbox.enqueue([notification()], ["am"], T0)
    now, waits = T0, []
    for _ in range(11):
        (item,) = outbox.due(now)
        outbox.mark_transient([item.id], "connection refused", now)
        (retried,) = outbox.history(item.alert_id)
        waits.append((retried.next_attempt_at - now).total_seconds())
        assert outbox.due(now) == [] and retried.state is OutboxState.PENDING
        now = retried.next_attempt_at
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert retried.attempts == 11 and retried.last_error == "connection refused"


def test_jitter_only_shortens_the_wait(store: SqlStore) -> None:  # noqa: F811
    outbox = Outbox(store, backoff=Backoff(initial=10, jitter=0.5), random_draw=lambda: 0.999)
    outbox.enqueue([notification()], ["am"], T0)
    outbox.mark_transient([outbox.due(T0)[0].id], "timeout", T0)
    wait = (outbox.history("service-down:portal")[0].next_attempt_at - T0).total_seconds()
    assert 5 < wait < 5.1


def test_permanent_failure_stops_retries_and_is_listed_as_failed(outbox: Outbox) -> None:
    outbox.enqueue([notification()], ["am"], T0)
    (item,) = outbox.due(T0)
    outbox.mark_permanent([item.id], "400 bad label", _at(5))
    assert outbox.due(_at(3600)) == [] and outbox.backlog() == 0
    (failed,) = outbox.failed_since(_at(5))
    assert (failed.state, failed.last_error, failed.attempts) == ("failed", "400 bad label", 1)
    assert outbox.failed_since(_at(6)) == []


def test_a_resolved_waits_behind_its_firing_that_is_backing_off(outbox: Outbox) -> None:
    firing = notification()
    other = notification("service-down:mail", service="mail")
    outbox.enqueue([firing, other], ["am"], T0)
    first = outbox.due(T0)[0]
    outbox.mark_transient([first.id], "503", T0)  # firing retries at T0 + 1 s
    resolved = notification(status=AlertStatus.RESOLVED, ends_at=_at(0.5))
    outbox.enqueue([resolved], ["am", "mail"], _at(0.5))
    due = outbox.due(_at(0.5))
    # the other alert and the resolved for another receiver go; the held-back one does not
    assert [(i.alert_id, i.receiver, i.notification.status) for i in due] == [
        ("service-down:mail", "am", AlertStatus.FIRING),
        ("service-down:portal", "mail", AlertStatus.RESOLVED),
    ]
    later = [i for i in outbox.due(_at(1)) if i.receiver == "am" and i.alert_id == firing.alert_id]
    assert [i.notification.status for i in later] == [
        AlertStatus.FIRING,
        AlertStatus.RESOLVED,
    ]


def test_due_respects_the_limit_and_skipped_receivers_oldest_first(outbox: Outbox) -> None:
    outbox.enqueue([notification(f"a:{i}") for i in range(5)], ["am", "mail"], T0)
    assert [i.alert_id for i in outbox.due(T0, 3)] == ["a:0", "a:0", "a:1"]
    only_mail = outbox.due(T0, skip_receivers={"am"})
    assert {i.receiver for i in only_mail} == {"mail"} and len(only_mail) == 5


def test_enqueue_routed_gives_each_notification_its_receivers(outbox: Outbox) -> None:
    cco, soc = notification("a:cco"), notification("a:soc", team="soc")
    count = outbox.enqueue_routed([(cco, ["am", "am"]), (soc, ["siem"]), (cco, [])], T0)
    assert count == 2
    assert outbox.backlog_by_receiver() == {"am": 1, "siem": 1}
    assert outbox.oldest_pending() == T0


def test_prune_removes_finished_rows_only(outbox: Outbox) -> None:
    outbox.enqueue([notification("a:1"), notification("a:2"), notification("a:3")], ["am"], T0)
    one, two, _three = outbox.due(T0)
    outbox.mark_delivered([one.id], T0)
    outbox.mark_permanent([two.id], "gone", T0)
    assert outbox.prune(_at(1)) == 2
    assert [i.alert_id for i in outbox.due(T0)] == ["a:3"]


def test_marking_a_finished_row_again_changes_nothing(outbox: Outbox) -> None:
    outbox.enqueue([notification()], ["am"], T0)
    (item,) = outbox.due(T0)
    outbox.mark_delivered([item.id], T0)
    outbox.mark_transient([item.id], "late timeout", _at(1))
    outbox.mark_permanent([item.id], "late refusal", _at(1))
    (row,) = outbox.history(item.alert_id)
    assert (row.state, row.attempts, row.last_error) == (OutboxState.DELIVERED, 1, "")


def test_migration_2_adds_the_outbox_to_a_version_1_database(store: SqlStore) -> None:  # noqa: F811
    with store.transaction(write=True) as conn:
        tables.outbox.drop(conn)
        conn.execute(delete(schema.schema_version).where(schema.schema_version.c.version >= 2))
    assert store.schema_version() == 1
    store.migrate()
    assert store.schema_version() == migrations.LATEST_VERSION
    with store.transaction() as conn:
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("outbox")}
    assert {"ix_outbox_state_next", "ix_outbox_receiver_alert", "ix_outbox_alert"} <= indexes
    Outbox(store).enqueue([notification()], ["am"], T0)
