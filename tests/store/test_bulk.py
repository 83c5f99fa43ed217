"""`PrefetchedTimelines` answers exactly as the store does, for any range inside its own."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from agent.records import Effect, State, TimelineRewritten, Transition, UnknownRecorded
from agent.store.bulk import PrefetchedTimelines
from agent.store.sql import SqlStore

T0 = datetime(2026, 10, 1, tzinfo=UTC)
H = timedelta(hours=1)
SERVICES = ("web", "api", "batch", "never-seen")


def fill(store: SqlStore, rng: random.Random) -> None:
    effects: list[Effect] = []
    for service in SERVICES[:-1]:
        hours = sorted(rng.sample(range(-48, 24 * 30), 40))
        states = [rng.choice(list(State)) for _ in hours]
        steps = tuple(
            Transition(service, T0 + h * H, s) for h, s in zip(hours, states, strict=True)
        )
        effects.append(TimelineRewritten(service, T0 - 100 * H, steps))
        for h in rng.sample(range(-48, 24 * 30), 8):
            start = T0 + h * H + timedelta(minutes=rng.randrange(60))
            effects.append(UnknownRecorded(service, start, start + rng.randrange(1, 300) * H / 60))
    store.apply(effects)


def test_every_range_inside_the_prefetched_one_reads_as_the_store(store: SqlStore) -> None:
    rng = random.Random(7)
    fill(store, rng)
    start, end = T0, T0 + 30 * 24 * H
    bulk = PrefetchedTimelines(store, start, end)
    ranges = [(start, end), (start, start), (end - H, end)]
    for _ in range(40):
        low, high = sorted(rng.randrange(0, 30 * 24 * 60) for _ in range(2))
        ranges.append((start + low * H / 60, start + high * H / 60))
    for service in SERVICES:
        for a, b in ranges:
            assert bulk.transitions(service, a, b) == store.transitions(service, a, b)
            assert bulk.unknown_intervals(service, a, b) == store.unknown_intervals(service, a, b)


def test_a_range_reaching_outside_is_read_from_the_store(store: SqlStore) -> None:
    fill(store, random.Random(3))
    bulk = PrefetchedTimelines(store, T0, T0 + 24 * H)
    a, b = T0 - 40 * H, T0 + 48 * H
    assert bulk.transitions("web", a, b) == store.transitions("web", a, b)
    assert bulk.unknown_intervals("web", a, b) == store.unknown_intervals("web", a, b)
    assert store.transitions("web", a, b)  # the comparison above was not empty against empty
