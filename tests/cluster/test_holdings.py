"""Holdings: a partition is workable only until its local deadline (injected clock)."""

from __future__ import annotations

from agent.cluster.holdings import Holdings


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_partition_stops_being_workable_at_its_deadline_without_any_renewer() -> None:
    clock = FakeMonotonic()
    holdings = Holdings(clock)
    holdings.extend({1: 7, 2: 3}, deadline=110.0)
    assert holdings.epoch(1) == 7 and holdings.valid() == {1: 7, 2: 3}
    clock.now = 110.0
    assert holdings.epoch(1) is None and holdings.valid() == {}
    assert holdings.expired() == {1: 7, 2: 3}
    assert holdings.next_deadline() is None


def test_a_renewal_moves_the_deadline_and_a_drop_is_immediate() -> None:
    clock = FakeMonotonic()
    holdings = Holdings(clock)
    holdings.extend({1: 7, 2: 3}, deadline=110.0)
    holdings.extend({1: 7}, deadline=120.0)
    assert holdings.next_deadline() == 110.0
    assert holdings.drop([2, 9]) == {2: 3}
    clock.now = 115.0
    assert holdings.valid() == {1: 7} and holdings.expired() == {}
