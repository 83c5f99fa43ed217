"""Availability arithmetic for one service over one period (semantics.md §4-§6). Pure, no I/O.

The service state is a step function: each transition holds until the next one. Every instant
of [start, end) goes to exactly one bucket, by priority:

    planned maintenance  >  unknown  >  the state (UP/DEGRADED -> up, DOWN -> down)

Unknown is: before the first transition, inside a recorded unknown interval, at or after
`known_until`, or while the state itself is UNKNOWN. DEGRADED time is part of up and is also
counted apart. So up + down + maintenance + unknown is the period, to the microsecond.

The sweep works on integer microseconds since the epoch: float seconds would drift when many
short segments are summed over a year, and the four buckets must add up to the period exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise

from agent.records import ServiceStatus, State, Transition

Interval = tuple[datetime, datetime]
_Span = tuple[int, int]  # [begin, end) in microseconds since the epoch

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_US_PER_S = 1_000_000


@dataclass(frozen=True, slots=True)
class ServiceTime:
    """Seconds of a period per bucket. `degraded` is the part of `up` spent DEGRADED."""

    up: float
    degraded: float
    down: float
    maintenance: float
    unknown: float

    @property
    def availability(self) -> float | None:
        """up / (up + down) in [0, 1]; None (N/A) when no time was known (semantics §4)."""
        known = self.up + self.down
        return None if known == 0 else self.up / known

    @property
    def total(self) -> float:
        return self.up + self.down + self.maintenance + self.unknown


def known_until(status: ServiceStatus | None, threshold: float, now: datetime) -> datetime | None:
    """Up to when the service's state is known, given its latest result.

    Within `threshold` seconds of the last result the agent is still observing, so the state is
    known up to `now`. Past it, the whole silence since the last result is unknown (§4), so
    the state is known only up to `last_seen_at`. None when the service was never seen.
    """
    if status is None or status.last_seen_at is None:
        return None
    if (now - status.last_seen_at).total_seconds() <= threshold:
        return now
    return status.last_seen_at


def service_time(
    transitions: Sequence[Transition],
    unknown: Sequence[Interval],
    maintenance: Sequence[Interval],
    known_until: datetime | None,
    start: datetime,
    end: datetime,
) -> ServiceTime:
    """Split [start, end) into up/down/maintenance/unknown seconds (see the module docstring).

    `transitions` should include the last one before `start`, as `Store.transitions` returns it;
    otherwise the time before the first one is unknown. Intervals may overlap each other and
    cross the period's edges: they are clipped. `known_until=None` sets no limit (the timeline
    alone decides). All datetimes must be timezone-aware.
    """
    if _us(end) < _us(start):
        raise ValueError(f"period end {end.isoformat()} is before its start {start.isoformat()}")
    return split_time(transitions, unknown, maintenance, known_until, (start, end))[0]


def split_time(
    transitions: Sequence[Transition],
    unknown: Sequence[Interval],
    maintenance: Sequence[Interval],
    known_until: datetime | None,
    bounds: Sequence[datetime],
) -> list[ServiceTime]:
    """`service_time` of each [bounds[i], bounds[i + 1]) in one sweep (the same arithmetic:
    each result equals `service_time` over that range). `bounds` must not decrease."""
    edges = bounds_micros(tuple(bounds))
    if len(edges) < 2 or any(b < a for a, b in pairwise(edges)):
        raise ValueError("bounds must be at least two non-decreasing datetimes")
    lo, hi = edges[0], edges[-1]
    planned = _clip_merge(((_us(a), _us(b)) for a, b in maintenance), lo, hi)
    blind_spans = [(_us(a), _us(b)) for a, b in unknown]
    if known_until is not None:
        blind_spans.append((_us(known_until), hi))
    blind = _clip_merge(blind_spans, lo, hi)
    steps = sorted(((_us(t.at), t.state) for t in transitions), key=lambda step: step[0])
    return [_seconds(totals) for totals in _sweep(steps, planned, blind, edges)]


@lru_cache(maxsize=16)
def bounds_micros(bounds: tuple[datetime, ...]) -> tuple[int, ...]:
    """`to_micros` of each bound; a report splits thousands of timelines at the same days."""
    return tuple(_us(b) for b in bounds)


def _seconds(totals: list[int]) -> ServiceTime:
    return ServiceTime(*(us / _US_PER_S for us in totals))


# bucket indexes, in ServiceTime's field order
_UP, _DEGRADED, _DOWN, _MAINTENANCE, _UNKNOWN = range(5)


def _sweep(
    steps: list[tuple[int, State]],
    planned: list[_Span],
    blind: list[_Span],
    edges: Sequence[int],
) -> list[list[int]]:
    # Every edge of every input is a cut, so each elementary segment between two cuts has one
    # bucket, decided by its first instant; the cursors only move forward. Microseconds per
    # bucket are summed per range between consecutive `edges`.
    lo, hi = edges[0], edges[-1]
    cuts = set(edges)
    cuts.update(at for at, _ in steps if lo < at < hi)
    cuts.update(edge for span in (*planned, *blind) for edge in span)
    in_planned, in_blind, state_at = _SpanCursor(planned), _SpanCursor(blind), _StateCursor(steps)
    out = [[0, 0, 0, 0, 0] for _ in range(len(edges) - 1)]
    part = 0
    for begin, finish in pairwise(sorted(cuts)):
        while edges[part + 1] <= begin:  # segments never straddle an edge: edges are cuts
            part += 1
        totals, length = out[part], finish - begin
        if in_planned.covers(begin):
            totals[_MAINTENANCE] += length
        elif in_blind.covers(begin):
            totals[_UNKNOWN] += length
        else:
            for bucket in _BUCKETS[state_at(begin)]:
                totals[bucket] += length
    return out


_BUCKETS: dict[State | None, tuple[int, ...]] = {
    None: (_UNKNOWN,),  # before the first transition
    State.UNKNOWN: (_UNKNOWN,),
    State.UP: (_UP,),
    State.DEGRADED: (_UP, _DEGRADED),
    State.DOWN: (_DOWN,),
}


class _SpanCursor:
    """Membership of increasing points in sorted, disjoint spans."""

    def __init__(self, spans: list[_Span]) -> None:
        self._spans = spans
        self._index = 0

    def covers(self, point: int) -> bool:
        while self._index < len(self._spans) and self._spans[self._index][1] <= point:
            self._index += 1
        return self._index < len(self._spans) and self._spans[self._index][0] <= point


class _StateCursor:
    """The step function's value at increasing points; the last of equal-time steps wins."""

    def __init__(self, steps: list[tuple[int, State]]) -> None:
        self._steps = steps
        self._index = -1

    def __call__(self, point: int) -> State | None:
        while self._index + 1 < len(self._steps) and self._steps[self._index + 1][0] <= point:
            self._index += 1
        return self._steps[self._index][1] if self._index >= 0 else None


def _clip_merge(spans: Iterable[_Span], lo: int, hi: int) -> list[_Span]:
    """Spans clipped to [lo, hi), empty ones dropped, overlapping ones merged, sorted."""
    merged: list[_Span] = []
    for begin, finish in sorted((max(a, lo), min(b, hi)) for a, b in spans):
        if finish <= begin:
            continue
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def to_micros(at: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (the sweep's clock)."""
    return _us(at)


def _us(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at.isoformat()}: expected a timezone-aware one")
    return (at - _EPOCH) // _MICROSECOND
