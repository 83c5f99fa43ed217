"""One check probed from M locations (semantics.md §8): a hard state per location, the quorum
verdict as the check's contribution to its service.

Each location keeps today's `CheckMachine` (confirmations, backdating). The verdict history is
recomputed from the instant a location's history changed (or from where the last evaluation
stopped, so a location going silent is noticed): at every step of every location and at every
instant a location became unknown for lack of results, `agent.locations.quorum.verdict` says
what the check is. The service timeline reads this history exactly as it reads a single
check's, so everything downstream (incidents, flapping, dependencies) is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from agent.catalog.model import Check, Impact
from agent.engine.checkstate import CheckMachine, contribution_at, step_at
from agent.locations.quorum import LocationView, Verdict, stale_after, verdict
from agent.records import CheckStatus, CheckStep, LocationState, State
from checks.result import Outcome, ProbeResult

MAX_GAPS = 64  # silences remembered per location: they are rare, and only late results look back


@dataclass
class _Location:
    """One location's machine and when it was heard from: its first and newest result and
    the silences between (consecutive results further apart than the staleness limit)."""

    machine: CheckMachine
    first: datetime | None = None
    last: datetime | None = None
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)  # (before, after)
    # what the worker's full spool dropped (first, last started_at): unknown, never a gap
    dropped: list[tuple[datetime, datetime]] = field(default_factory=list)

    @classmethod
    def restore(cls, check: Check, state: LocationState) -> _Location:
        return cls(
            CheckMachine(check, state.status),
            state.first,
            state.status.last_result_at,
            list(state.gaps),
            list(state.dropped),
        )

    def saved(self, name: str) -> LocationState:
        status = self.machine.status()
        gaps, dropped = tuple(self.gaps), tuple(self.dropped)
        return LocationState(status.check, name, status.service, status, self.first, gaps, dropped)

    def heard(self, at: datetime, stale: timedelta) -> None:
        if self.last is not None and at - self.last > stale:
            self.gaps = [*self.gaps[-(MAX_GAPS - 1) :], (self.last, at)]
        self.first = at if self.first is None else self.first
        self.last = at

    def newest_at(self, at: datetime) -> datetime | None:
        """The newest result at or before `at`, as far as staleness needs it: inside a
        silence its start, else `at` itself (a result within the limit) or the last one."""
        if self.first is None or self.last is None or at < self.first:
            return None
        if at >= self.last:
            return self.last
        for before, after in self.gaps:
            if before <= at < after:
                return before
        return at

    def silences(self, since: datetime, now: datetime, stale: timedelta) -> set[datetime]:
        """The first unknown instants (strictly older than the limit) in [since, now]."""
        starts = [before for before, _after in self.gaps]
        if self.last is not None:
            starts.append(self.last)
        return {b + stale + _EPSILON for b in starts if since <= b + stale + _EPSILON <= now}

    def dropped_edges(self, since: datetime, now: datetime) -> set[datetime]:
        """Where a dropped interval begins and ends (the instant after its last result)."""
        edges = {e for first, last in self.dropped for e in (first, last + _EPSILON)}
        return {e for e in edges if since <= e <= now}

    def view(self, name: str, at: datetime) -> LocationView:
        state = self.machine.contribution_at(at)
        down_since, reason = None, ""
        if state is State.DOWN:
            step = next(s for s in reversed(self.machine.history) if s.at <= at)
            down_since, reason = step.at, step.reason
        blind = any(first <= at <= last for first, last in self.dropped)
        return LocationView(name, state, self.newest_at(at), down_since, blind, reason)


class MultiLocationCheck:
    """Quacks like `CheckMachine` for the engine and the service timeline.

    A restart resumes from the saved verdict (`status`) and each location's saved state, so a
    backlog arriving afterwards is judged against what the other locations said (§8).
    """

    def __init__(
        self,
        check: Check,
        status: CheckStatus | None = None,
        states: Mapping[str, LocationState] | None = None,
    ) -> None:
        self.check = check
        # per location, the hard state only: its own impact is applied to the verdict
        judged = replace(check, impact=Impact.DOWN)
        saved = states or {}
        self.locations = {
            name: _Location.restore(judged, saved[name])
            if name in saved
            else _Location(CheckMachine(judged))
            for name in check.locations
        }
        self.history: list[CheckStep] = list(status.history) if status and saved else []
        # the verdict behind each history step (not saved: incidents keep their locations)
        self.verdicts: dict[datetime, Verdict] = {}
        self.evaluated_to: datetime | None = self._now()  # newest instant the history covers
        self.last_late = False  # whether the last observed result was a late one (§8)

    # ---- input ------------------------------------------------------------------------------

    def observe(self, result: ProbeResult, location: str = "local") -> datetime | None:
        """Feed one location's result; the earliest instant whose contribution changed."""
        place = self.locations.get(location)
        if place is None or result.outcome is Outcome.UNKNOWN:
            return None  # not one of its locations / the location could not judge
        if place.last is not None and result.started_at <= place.last:
            return None  # a location's results are judged in time order (§8)
        horizon = self.evaluated_to
        self.last_late = horizon is not None and result.started_at < horizon - self._stale()
        place.heard(result.started_at, self._stale())
        changed = place.machine.observe(result)
        starts = [t for t in (changed, horizon, result.started_at) if t is not None]
        return self._recompute(min(starts))

    def dropped(self, location: str, first: datetime, last: datetime) -> datetime | None:
        """The location's worker dropped its results from `first` to `last` (a full spool):
        the location is unknown then, whatever it said around it (§8)."""
        place = self.locations.get(location)
        if place is None or last < first:
            return None
        place.dropped = [*place.dropped[-(MAX_GAPS - 1) :], (first, last)]
        self.last_late = True
        return self._recompute(first)

    def retarget(self, check: Check) -> None:
        """New timing or impact from a reload; same locations."""
        self.check = check
        judged = replace(check, impact=Impact.DOWN)
        for place in self.locations.values():
            place.machine.check = judged

    # ---- the verdict history ----------------------------------------------------------------

    def _stale(self) -> timedelta:
        return stale_after(self.check.interval, self.check.timeout)

    def _now(self) -> datetime | None:
        instants = [p.last for p in self.locations.values() if p.last is not None]
        return max(instants) if instants else None

    def _points(self, since: datetime, now: datetime) -> list[datetime]:
        """Instants where the verdict can change: location steps and silences beginning."""
        points = {since}
        stale = self._stale()
        for place in self.locations.values():
            points |= {s.at for s in place.machine.history if since <= s.at <= now}
            points |= place.silences(since, now, stale)
            points |= place.dropped_edges(since, now)
        return sorted(points)

    def verdict_at(self, at: datetime) -> Verdict:
        views = [place.view(name, at) for name, place in self.locations.items()]
        return verdict(views, at, self.check.interval, self.check.timeout, self.check.quorum)

    def _recompute(self, since: datetime) -> datetime | None:
        now = self._now()
        if now is None:
            return None
        self.evaluated_to = now
        steps: list[tuple[CheckStep, Verdict]] = []
        for point in self._points(since, now):
            judged = self.verdict_at(point)
            at = judged.started_at if judged.started_at is not None else point
            step = CheckStep(at, self._contribution(judged), _reason(judged))
            while steps and steps[-1][0].at >= at:
                steps.pop()
            steps.append((step, judged))
        start = min(since, steps[0][0].at) if steps else since
        new = [s for s in self.history if s.at < start]
        for step, judged in steps:
            if new and new[-1].state is step.state:
                continue
            new.append(step)
            self.verdicts[step.at] = judged
        if new == self.history:
            return None
        self.history = new
        return start

    def _contribution(self, judged: Verdict) -> State:
        if judged.state is State.DOWN and self.check.impact is Impact.DEGRADED:
            return State.DEGRADED
        return judged.state

    # ---- reading (as CheckMachine) ----------------------------------------------------------

    def contribution_at(self, at: datetime) -> State:
        return contribution_at(self.history, at)

    def step_at(self, at: datetime) -> CheckStep | None:
        return step_at(self.history, at)

    def down_locations_at(self, at: datetime) -> tuple[str, ...]:
        """The locations whose DOWN made the verdict DOWN from `at`."""
        judged = self.verdicts.get(at)
        return judged.down if judged is not None and judged.state is State.DOWN else ()

    def failing_below_quorum(self) -> tuple[str, ...]:
        """Locations hard DOWN now while the verdict is not DOWN: a location problem (§8)."""
        now = self._now()
        if now is None:
            return ()
        judged = self.verdict_at(now)
        return () if judged.state is State.DOWN else judged.down

    def instant_state(self) -> State:
        return self.history[-1].state if self.history else State.UNKNOWN

    def pending_since(self) -> datetime | None:
        pending = [p for x in self.locations.values() if (p := x.machine.pending_since())]
        return min(pending) if pending else None

    def prune(self, horizon: datetime) -> None:
        for place in self.locations.values():
            place.machine.prune(horizon)
        older_steps = [i for i, s in enumerate(self.history) if s.at < horizon]
        if len(older_steps) > 1:
            del self.history[: older_steps[-1]]
        kept = {s.at for s in self.history}
        self.verdicts = {at: v for at, v in self.verdicts.items() if at in kept}

    def location_state(self, location: str) -> LocationState:
        """What a restart needs of one location (`LocationState`)."""
        return self.locations[location].saved(location)

    def location_status(self, location: str) -> CheckStatus:
        return replace(self.locations[location].machine.status(), check=self.check.id)

    def status(self) -> CheckStatus:
        """The check as a whole: its verdict as the hard state (for the board and the API)."""
        now = self.history[-1] if self.history else None
        newest = self._now()
        hard = State.UNKNOWN if now is None else _HARD.get(now.state, State.UP)
        return CheckStatus(
            check=self.check.id,
            service=self.check.service,
            hard_state=hard,
            since=now.at if now else None,
            last_result_at=newest,
            last_reason=now.reason if now else "",
            history=tuple(self.history),
        )


_EPSILON = timedelta(microseconds=1)  # the store's resolution
_HARD = {State.DOWN: State.DOWN, State.UNKNOWN: State.UNKNOWN}  # contribution -> hard state


def _reason(judged: Verdict) -> str:
    if judged.state is not State.DOWN:
        return ""
    return f"{judged.reason} (DOWN at {', '.join(judged.down)})"
