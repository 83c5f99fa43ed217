"""The newest beat of each heartbeat check, kept in the store (schema version 13) so that the
check's owner in a cluster and an agent after a restart see beats another process took."""

from __future__ import annotations

from datetime import timedelta

from agent.store.sql import SqlStore
from tests.engine.builders import T0


def test_the_newest_beat_is_kept_and_a_late_older_one_changes_nothing(store: SqlStore) -> None:
    assert store.beats() == {}
    store.record_beat("job/beat", T0)
    store.record_beat("job/beat", T0 + timedelta(minutes=5))
    store.record_beat("job/beat", T0 + timedelta(minutes=1))  # a retry arriving late
    store.record_beat("other/beat", T0)
    assert store.beats() == {"job/beat": T0 + timedelta(minutes=5), "other/beat": T0}
