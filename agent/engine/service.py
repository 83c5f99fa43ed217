"""Service state from its checks, and the service timeline with backdated rewrites (§2).

A check's confirmation is backdated, so when a check's history changes from instant `t` the
service state is re-evaluated at every check change point at or after `t`; equal consecutive
states merge. The store then replaces the service's transitions from `t` on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from agent.engine.checkstate import CheckMachine
from agent.engine.multilocation import MultiLocationCheck
from agent.records import State, TimelineRewritten, Transition

_SEVERITY = (State.DOWN, State.DEGRADED, State.UP)


def combine(states: Iterable[State]) -> State:
    """DOWN over DEGRADED over UP; UNKNOWN only when no check has a known state."""
    known = set(states) - {State.UNKNOWN}
    return next((s for s in _SEVERITY if s in known), State.UNKNOWN)


@dataclass(frozen=True, slots=True)
class DownInterval:
    start: datetime
    end: datetime | None  # None: still DOWN


class Timeline:
    """The recent transitions of one service, oldest first, consecutive states distinct."""

    def __init__(self, service: str, steps: Sequence[Transition] = ()) -> None:
        self.service = service
        self.steps: list[Transition] = sorted(steps, key=lambda s: s.at)

    @property
    def current(self) -> Transition | None:
        return self.steps[-1] if self.steps else None

    def state_before(self, at: datetime) -> State:
        earlier = [s for s in self.steps if s.at < at]
        return earlier[-1].state if earlier else State.UNKNOWN

    def down_start(self) -> datetime | None:
        """Start of the current DOWN step, if the service is DOWN now."""
        now = self.current
        return now.at if now is not None and now.state is State.DOWN else None

    def rewrite(
        self, at: datetime, checks: Sequence[CheckMachine | MultiLocationCheck]
    ) -> TimelineRewritten | None:
        """Recompute from `at`; returns the effect, or None when nothing changed."""
        points = sorted({at} | {s.at for c in checks for s in c.history if s.at >= at})
        last = self.state_before(at)
        new: list[Transition] = []
        for point in points:
            state = combine(c.contribution_at(point) for c in checks)
            if state is not last:
                new.append(Transition(self.service, point, state))
                last = state
        old = [s for s in self.steps if s.at >= at]
        if new == old:
            return None
        self.steps = [s for s in self.steps if s.at < at] + new
        return TimelineRewritten(self.service, at, tuple(new))

    def down_intervals(self, since: datetime) -> list[DownInterval]:
        """DOWN intervals that end at or after `since` (or have not ended)."""
        found: list[DownInterval] = []
        for i, step in enumerate(self.steps):
            if step.state is not State.DOWN:
                continue
            end = self.steps[i + 1].at if i + 1 < len(self.steps) else None
            if end is None or end >= since:
                found.append(DownInterval(step.at, end))
        return found

    def prune(self, horizon: datetime) -> None:
        """Keep the step in force just before `horizon` and later ones.

        A rewrite at `horizon` needs the state before it; the DOWN step in force keeps its
        start, which an open incident's start is.
        """
        older = [i for i, s in enumerate(self.steps) if s.at < horizon]
        if len(older) > 1:
            del self.steps[: older[-1]]
