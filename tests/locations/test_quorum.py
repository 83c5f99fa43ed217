"""The N-of-M arithmetic (semantics.md §8): every branch, with explicit instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.locations.quorum import LocationView, is_unknown, majority, verdict
from agent.records import State

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
INTERVAL, TIMEOUT = 60.0, 10.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def view(name: str, state: State, newest: float = 0, down: float | None = None) -> LocationView:
    since = at(down) if down is not None else (at(newest) if state is State.DOWN else None)
    return LocationView(name, state, at(newest), since, reason=f"{name} failed")


def judge(views: list[LocationView], now: float = 0, quorum: int | None = None):  # type: ignore[no-untyped-def]
    return verdict(views, at(now), INTERVAL, TIMEOUT, quorum)


def test_the_default_quorum_is_a_majority() -> None:
    assert [majority(m) for m in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_one_location_is_todays_hard_state() -> None:
    assert judge([view("local", State.UP)]).state is State.UP
    assert judge([view("local", State.DOWN)]).state is State.DOWN
    assert judge([view("local", State.DEGRADED)]).state is State.DEGRADED
    assert judge([view("local", State.UNKNOWN)]).state is State.UNKNOWN


def test_down_at_a_quorum_of_locations_is_down() -> None:
    result = judge([view("a", State.DOWN), view("b", State.DOWN), view("c", State.UP)])
    assert result.state is State.DOWN
    assert result.down == ("a", "b") and result.up == ("c",)


def test_down_below_the_quorum_with_enough_up_is_up() -> None:
    result = judge([view("a", State.DOWN), view("b", State.UP), view("c", State.UP)])
    assert result.state is State.UP and result.started_at is None


def test_neither_quorum_is_unknown() -> None:
    # 1 DOWN, 1 UP, 1 without results: neither 2 DOWN nor 2 UP
    result = judge([view("a", State.DOWN), view("b", State.UP), view("c", State.UNKNOWN)])
    assert result.state is State.UNKNOWN and result.unknown == ("c",)


def test_a_location_whose_newest_result_is_too_old_is_unknown() -> None:
    limit = 2 * INTERVAL + TIMEOUT
    fresh, stale = view("a", State.UP, newest=-limit), view("a", State.UP, newest=-limit - 1)
    assert not is_unknown(fresh, at(0), INTERVAL, TIMEOUT)
    assert is_unknown(stale, at(0), INTERVAL, TIMEOUT)
    # two UP of three needed: the stale one does not count
    result = judge([stale, view("b", State.UP), view("c", State.DOWN)])
    assert result.state is State.UNKNOWN and result.unknown == ("a",)


def test_a_blind_location_is_unknown_whatever_it_says() -> None:
    blind = LocationView("a", State.DOWN, at(0), at(0), blind=True)
    result = judge([blind, view("b", State.DOWN), view("c", State.UP)])
    assert result.state is State.UNKNOWN and result.unknown == ("a",)


def test_degraded_needs_a_quorum_of_degraded_locations() -> None:
    one = judge([view("a", State.DEGRADED), view("b", State.UP), view("c", State.UP)])
    two = judge([view("a", State.DEGRADED), view("b", State.DEGRADED), view("c", State.UP)])
    assert one.state is State.UP and two.state is State.DEGRADED


def test_an_explicit_quorum_overrides_the_majority() -> None:
    one_down = [view("a", State.DOWN), view("b", State.UP), view("c", State.UP)]
    assert judge(one_down, quorum=1).state is State.DOWN
    # all three must fail for DOWN; then a single UP location is enough for UP
    two_down = [view("a", State.DOWN), view("b", State.DOWN), view("c", State.UP)]
    assert judge(two_down, quorum=3).state is State.UP
    assert judge([*two_down[:2], view("c", State.DOWN)], quorum=3).state is State.DOWN


def test_a_quorum_outside_one_to_m_is_refused() -> None:
    with pytest.raises(ValueError, match="quorum 4"):
        judge([view("a", State.UP)] * 3, quorum=4)
    with pytest.raises(ValueError, match="quorum 0"):
        judge([view("a", State.UP)], quorum=0)


def test_the_incident_starts_at_the_earliest_failing_probe_of_the_quorum() -> None:
    views = [view("a", State.DOWN, down=-50), view("b", State.DOWN, down=-10), view("c", State.UP)]
    result = judge(views)
    assert result.started_at == at(-50) and result.reason == "a failed"


def test_a_location_down_long_before_does_not_pull_the_start_back() -> None:
    days = -3 * 86400
    views = [view("a", State.DOWN, down=days), view("b", State.DOWN, down=-10), view("c", State.UP)]
    assert judge(views).started_at == at(-10)


def test_the_start_chains_back_through_locations_one_interval_apart() -> None:
    downs = [0, -60, -120, -3000]
    views = [
        *(view(f"l{i}", State.DOWN, down=d) for i, d in enumerate(downs)),
        view("up", State.UP),
    ]
    # quorum 3 of 5 formed at -60 (third-earliest); -120 is within reach, -3000 is not
    assert judge(views, quorum=3).started_at == at(-120)


# ---- properties -------------------------------------------------------------------------

STATES = st.sampled_from([State.UP, State.DEGRADED, State.DOWN, State.UNKNOWN])


@st.composite
def situations(draw: st.DrawFn) -> tuple[list[LocationView], int]:
    m = draw(st.integers(1, 7))
    views = [
        LocationView(
            f"l{i}",
            draw(STATES),
            at(-draw(st.integers(0, 400))),
            at(-draw(st.integers(0, 4000))),
            blind=draw(st.booleans()),
        )
        for i in range(m)
    ]
    return views, draw(st.integers(1, m))


@given(situations())
def test_never_up_while_a_quorum_is_down(situation: tuple[list[LocationView], int]) -> None:
    views, n = situation
    result = verdict(views, at(0), INTERVAL, TIMEOUT, n)
    counted_down = [
        v for v in views if v.state is State.DOWN and not is_unknown(v, at(0), INTERVAL, TIMEOUT)
    ]
    if len(counted_down) >= n:
        assert result.state is State.DOWN
    if result.state in (State.UP, State.DEGRADED):
        assert len(result.down) < n


@given(situations())
def test_unknown_is_never_counted_as_up(situation: tuple[list[LocationView], int]) -> None:
    views, n = situation
    result = verdict(views, at(0), INTERVAL, TIMEOUT, n)
    unknown = {v.location for v in views if is_unknown(v, at(0), INTERVAL, TIMEOUT)}
    assert unknown == set(result.unknown)
    assert not unknown & set(result.up) and not unknown & set(result.down)
    # making every unknown location DOWN-less and UP-less cannot create an UP verdict:
    # UP needs M - N + 1 known UP locations
    if result.state in (State.UP, State.DEGRADED):
        assert len(result.up) >= len(views) - n + 1


@given(situations())
def test_a_down_verdict_starts_at_one_of_its_down_locations(
    situation: tuple[list[LocationView], int],
) -> None:
    views, n = situation
    result = verdict(views, at(0), INTERVAL, TIMEOUT, n)
    if result.state is State.DOWN:
        starts = {v.down_since for v in views if v.location in result.down}
        assert result.started_at in starts
        assert result.started_at is not None and result.started_at <= at(0)
