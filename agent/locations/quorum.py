"""The N-of-M verdict of one check over its locations (semantics.md §8), as pure arithmetic.

Input: what each location says at one instant (its hard state, the start of its DOWN run, its
newest result, whether its own connectivity check fails) and the check's interval and timeout.
Output: the check's verdict at that instant and, for DOWN, the incident's start. No clock of its
own: the instant is an argument, so tests replay any moment exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.records import State


@dataclass(frozen=True, slots=True)
class LocationView:
    """One location's word on one check at one instant.

    `state` is the location's hard state: UP, DEGRADED (hard UP, newest probe degraded), DOWN
    or UNKNOWN (no result yet). `down_since` is the first failing probe of its DOWN run.
    """

    location: str
    state: State
    newest: datetime | None  # started_at of the newest result at or before the instant
    down_since: datetime | None = None
    blind: bool = False  # the location's own connectivity check fails
    reason: str = ""  # the first failing probe's reason, on DOWN


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State  # UP, DEGRADED, DOWN or UNKNOWN
    started_at: datetime | None  # for DOWN: the incident's start (§8)
    down: tuple[str, ...]  # locations hard DOWN (known), by name
    up: tuple[str, ...]  # locations UP or DEGRADED (known)
    unknown: tuple[str, ...]  # locations that count neither way
    reason: str = ""  # for DOWN: the reason of the location whose failure started it


def majority(m: int) -> int:
    """The default quorum: more than half of the M locations."""
    return m // 2 + 1


def stale_after(interval: float, timeout: float) -> timedelta:
    """How old a location's newest result may be before the location is unknown (§8, §4)."""
    return timedelta(seconds=2 * interval + timeout)


def is_unknown(view: LocationView, at: datetime, interval: float, timeout: float) -> bool:
    if view.blind or view.state is State.UNKNOWN or view.newest is None:
        return True
    return at - view.newest > stale_after(interval, timeout)


def verdict(
    views: Sequence[LocationView],
    at: datetime,
    interval: float,
    timeout: float,
    quorum: int | None = None,
) -> Verdict:
    """The check's verdict at `at` from its M = len(views) locations."""
    m = len(views)
    n = quorum if quorum is not None else majority(m)
    if not 1 <= n <= m:
        raise ValueError(f"quorum {n} is not between 1 and the {m} locations")
    unknown = [v for v in views if is_unknown(v, at, interval, timeout)]
    known = [v for v in views if v not in unknown]
    down = [v for v in known if v.state is State.DOWN]
    up = [v for v in known if v.state in (State.UP, State.DEGRADED)]
    names = (_names(down), _names(up), _names(unknown))
    if len(down) >= n:
        first = _quorum_start(down, n, interval, timeout)
        return Verdict(State.DOWN, first.down_since, *names, reason=first.reason)
    if len(up) >= m - n + 1:
        degraded = sum(1 for v in up if v.state is State.DEGRADED)
        state = State.DEGRADED if degraded >= n else State.UP
        return Verdict(state, None, *names)
    return Verdict(State.UNKNOWN, None, *names)


def _quorum_start(
    down: Sequence[LocationView], n: int, interval: float, timeout: float
) -> LocationView:
    """The location whose first failing probe starts the incident.

    The quorum formed when the N-th location (in time) went DOWN. Going back from it, a location
    counts while its DOWN began within one interval + timeout of the next one counted: probes of
    one outage from several places fail within about one interval of each other. A location
    DOWN long before that failed on its own account and does not pull the start back.
    """
    dated = sorted(
        (v for v in down if v.down_since is not None), key=lambda v: (v.down_since, v.location)
    )
    if len(dated) < n:
        return dated[0] if dated else down[0]
    reach = timedelta(seconds=interval + timeout)
    first = dated[n - 1]
    for earlier in reversed(dated[: n - 1]):
        assert earlier.down_since is not None and first.down_since is not None
        if first.down_since - earlier.down_since > reach:
            break
        first = earlier
    return first


def _names(views: Sequence[LocationView]) -> tuple[str, ...]:
    return tuple(sorted(v.location for v in views))
