from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.indicators.availability import ServiceTime, known_until, service_time
from agent.records import ServiceStatus, State, Transition

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def steps(*pairs: tuple[float, State]) -> list[Transition]:
    return [Transition("svc", at(m), state) for m, state in pairs]


def micro(seconds: float) -> int:
    # a bucket is an integer number of microseconds divided by 1e6: rounding recovers it exactly
    return round(seconds * 1_000_000)


def buckets_us(time: ServiceTime) -> int:
    return sum(micro(b) for b in (time.up, time.down, time.maintenance, time.unknown))


# ---- hand-worked cases -------------------------------------------------------------------------


def test_up_then_down_splits_the_period_at_the_transition() -> None:
    time = service_time(steps((0, State.UP), (45, State.DOWN)), [], [], None, at(0), at(60))
    assert (time.up, time.down, time.maintenance, time.unknown) == (2700, 900, 0, 0)
    assert time.availability == 0.75


def test_incident_crossing_the_period_start_is_clipped_to_the_period() -> None:
    # DOWN from 10 minutes before the period until 20 minutes into it
    timeline = steps((-10, State.DOWN), (20, State.UP))
    time = service_time(timeline, [], [], None, at(0), at(60))
    assert (time.down, time.up) == (1200, 2400)


def test_incident_crossing_the_period_end_is_clipped_to_the_period() -> None:
    timeline = steps((0, State.UP), (50, State.DOWN), (70, State.UP))
    time = service_time(timeline, [], [], None, at(0), at(60))
    assert (time.up, time.down) == (3000, 600)


def test_down_time_inside_planned_maintenance_is_maintenance_not_down() -> None:
    timeline = steps((0, State.UP), (10, State.DOWN), (40, State.UP))
    time = service_time(timeline, [], [(at(5), at(30))], None, at(0), at(60))
    # 5-30 maintenance; down only 30-40; up 0-5 and 40-60
    assert (time.maintenance, time.down, time.up) == (1500, 600, 1500)


def test_unknown_gap_inside_an_incident_is_not_down_time() -> None:
    timeline = steps((0, State.DOWN), (40, State.UP))
    time = service_time(timeline, [(at(10), at(25))], [], None, at(0), at(60))
    assert (time.down, time.unknown, time.up) == (1500, 900, 1200)


def test_maintenance_wins_over_unknown_where_they_overlap() -> None:
    timeline = steps((0, State.UP))
    time = service_time(timeline, [(at(10), at(30))], [(at(20), at(40))], None, at(0), at(60))
    assert (time.unknown, time.maintenance, time.up) == (600, 1200, 1800)


def test_time_before_the_first_transition_is_unknown() -> None:
    time = service_time(steps((15, State.UP)), [], [], None, at(0), at(60))
    assert (time.unknown, time.up) == (900, 2700)


def test_time_after_known_until_is_unknown() -> None:
    time = service_time(steps((0, State.DOWN)), [], [], at(40), at(0), at(60))
    assert (time.down, time.unknown) == (2400, 1200)


def test_unknown_state_counts_as_unknown() -> None:
    timeline = steps((0, State.UP), (20, State.UNKNOWN), (30, State.UP))
    time = service_time(timeline, [], [], None, at(0), at(60))
    assert (time.up, time.unknown) == (3000, 600)


def test_degraded_time_is_up_time_also_shown_apart() -> None:
    timeline = steps((0, State.UP), (20, State.DEGRADED), (30, State.DOWN))
    time = service_time(timeline, [], [], None, at(0), at(60))
    assert (time.up, time.degraded, time.down) == (1800, 600, 1800)
    assert time.availability == 0.5


def test_last_of_two_transitions_at_the_same_instant_holds() -> None:
    timeline = steps((0, State.UP), (0, State.DOWN))
    assert service_time(timeline, [], [], None, at(0), at(60)).down == 3600


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before its start"):
        service_time([], [], [], None, at(60), at(0))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        service_time([], [], [], None, datetime(2026, 1, 1), at(0))


def test_known_until_is_now_while_results_are_recent() -> None:
    status = ServiceStatus("svc", State.UP, at(0), last_seen_at=at(59))
    assert known_until(status, threshold=150, now=at(60)) == at(60)


def test_known_until_stops_at_the_last_result_after_a_silence() -> None:
    status = ServiceStatus("svc", State.UP, at(0), last_seen_at=at(50))
    assert known_until(status, threshold=150, now=at(60)) == at(50)


def test_known_until_is_none_for_a_service_never_seen() -> None:
    assert known_until(None, 150, at(60)) is None
    assert known_until(ServiceStatus("svc", State.UNKNOWN, None, None), 150, at(60)) is None


# ---- properties --------------------------------------------------------------------------------

PERIOD = 10_000  # seconds; inputs spill past both edges to exercise clipping
offsets = st.integers(min_value=-2_000, max_value=PERIOD + 2_000)
fine_offsets = st.floats(min_value=-2_000, max_value=PERIOD + 2_000, allow_nan=False)


def moment(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


timelines = st.lists(st.tuples(fine_offsets, st.sampled_from(list(State))), max_size=25).map(
    lambda pairs: [Transition("svc", moment(s), state) for s, state in pairs]
)
intervals = st.lists(
    st.tuples(fine_offsets, st.floats(min_value=0, max_value=3_000, allow_nan=False)),
    max_size=6,
).map(lambda pairs: [(moment(s), moment(s + length)) for s, length in pairs])
caps = st.none() | fine_offsets.map(moment)


@given(timelines, intervals, intervals, caps, offsets, offsets)
def test_the_four_buckets_add_up_to_the_period(
    timeline: list[Transition],
    unknown: list[tuple[datetime, datetime]],
    maintenance: list[tuple[datetime, datetime]],
    cap: datetime | None,
    a: int,
    b: int,
) -> None:
    start, end = moment(min(a, b)), moment(max(a, b))
    time = service_time(timeline, unknown, maintenance, cap, start, end)
    assert buckets_us(time) == (end - start) // timedelta(microseconds=1)
    assert min(time.up, time.degraded, time.down, time.maintenance, time.unknown) >= 0
    assert time.degraded <= time.up


@given(timelines, intervals, intervals, caps)
def test_availability_is_a_fraction_or_not_applicable(
    timeline: list[Transition],
    unknown: list[tuple[datetime, datetime]],
    maintenance: list[tuple[datetime, datetime]],
    cap: datetime | None,
) -> None:
    time = service_time(timeline, unknown, maintenance, cap, moment(0), moment(PERIOD))
    if time.up + time.down == 0:
        assert time.availability is None
    else:
        assert time.availability is not None and 0 <= time.availability <= 1


@given(timelines, intervals, intervals, caps, st.integers(min_value=0, max_value=PERIOD))
def test_splitting_a_period_in_two_and_summing_the_parts_gives_the_whole(
    timeline: list[Transition],
    unknown: list[tuple[datetime, datetime]],
    maintenance: list[tuple[datetime, datetime]],
    cap: datetime | None,
    cut: int,
) -> None:
    def part(begin: float, finish: float) -> ServiceTime:
        return service_time(timeline, unknown, maintenance, cap, moment(begin), moment(finish))

    whole, first, second = part(0, PERIOD), part(0, cut), part(cut, PERIOD)
    for name in ("up", "degraded", "down", "maintenance", "unknown"):
        parts = micro(getattr(first, name)) + micro(getattr(second, name))
        assert parts == micro(getattr(whole, name)), name


@given(timelines, intervals, intervals, intervals, caps)
def test_adding_maintenance_never_increases_down_time(
    timeline: list[Transition],
    unknown: list[tuple[datetime, datetime]],
    maintenance: list[tuple[datetime, datetime]],
    more: list[tuple[datetime, datetime]],
    cap: datetime | None,
) -> None:
    def down(windows: list[tuple[datetime, datetime]]) -> float:
        return service_time(timeline, unknown, windows, cap, moment(0), moment(PERIOD)).down

    assert down(maintenance + more) <= down(maintenance)


@given(intervals, caps, offsets, offsets)
def test_a_service_without_transitions_is_all_unknown_and_not_applicable(
    unknown: list[tuple[datetime, datetime]], cap: datetime | None, a: int, b: int
) -> None:
    start, end = moment(min(a, b)), moment(max(a, b))
    time = service_time([], unknown, [], cap, start, end)
    assert micro(time.unknown) == (end - start) // timedelta(microseconds=1)
    assert time.availability is None
