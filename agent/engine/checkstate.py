"""Per-check hard state machine (semantics.md §2): confirmation runs, backdating, degraded.

Besides the hard state, a check keeps a short `history` of `CheckStep`s: what it contributes
to its service's state from each instant on. Confirmations are backdated to the first probe
of the confirming run, so the history can change in the past; the service timeline is then
recomputed from the returned instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from agent.catalog.model import Check, Impact
from agent.records import CheckStatus, CheckStep, State
from checks.result import Outcome, ProbeResult


class CheckMachine:
    def __init__(self, check: Check, status: CheckStatus | None = None) -> None:
        self.check = check
        self.hard = State.UNKNOWN
        self.since: datetime | None = None
        self.fail_count = 0
        self.fail_started_at: datetime | None = None
        self.fail_reason = ""
        self.ok_count = 0
        self.ok_started_at: datetime | None = None
        self.last_outcome: str | None = None
        self.last_result_at: datetime | None = None
        self.last_reason = ""
        self.history: list[CheckStep] = []
        if status is not None:
            self._restore(status)

    # ---- input ------------------------------------------------------------------------------

    def observe(self, result: ProbeResult) -> datetime | None:
        """Feed one result; returns the earliest instant whose contribution changed, if any."""
        if result.outcome is Outcome.UNKNOWN:
            return None  # the agent could not judge: neither confirms nor breaks a run
        self.last_outcome = result.outcome.value
        self.last_result_at = result.started_at
        self.last_reason = result.reason
        if result.outcome is Outcome.FAIL:
            return self._fail(result)
        return self._ok(result)

    def _fail(self, result: ProbeResult) -> datetime | None:
        self.ok_count, self.ok_started_at = 0, None
        if self.fail_count == 0:
            self.fail_started_at, self.fail_reason = result.started_at, result.reason
        self.fail_count += 1
        if self.hard is not State.DOWN and self.fail_count >= self.check.timing.confirm_down:
            assert self.fail_started_at is not None
            self.hard, self.since = State.DOWN, self.fail_started_at
            step = CheckStep(self.since, self._contribution(), self.fail_reason)
            return self._set(self.since, [step])
        if self.hard is State.UP:  # a soft failure ends a degraded spell, nothing more
            return self._set(result.started_at, [CheckStep(result.started_at, State.UP)])
        return None

    def _ok(self, result: ProbeResult) -> datetime | None:
        self.fail_count, self.fail_started_at, self.fail_reason = 0, None, ""
        if self.hard is State.DOWN:
            return self._ok_while_down(result)
        if self.hard is State.UNKNOWN:  # first ok result: UP at once, nothing to confirm
            self.hard, self.since = State.UP, result.started_at
        return self._set(result.started_at, [CheckStep(result.started_at, self._contribution())])

    def _ok_while_down(self, result: ProbeResult) -> datetime | None:
        if self.ok_count == 0:
            self.ok_started_at = result.started_at
        self.ok_count += 1
        if self.ok_count < self.check.timing.confirm_up:
            return None
        assert self.ok_started_at is not None
        start = self.ok_started_at
        self.hard, self.since = State.UP, start
        self.ok_count, self.ok_started_at = 0, None
        # UP is backdated to the run's first ok probe; degraded is not (it is immediate)
        steps = [CheckStep(start, State.UP), CheckStep(result.started_at, self._contribution())]
        return self._set(start, steps)

    def _set(self, at: datetime, steps: list[CheckStep]) -> datetime | None:
        """Replace the history from `at` on with `steps`; returns `at` if anything changed."""
        new = [s for s in self.history if s.at < at]
        for step in steps:
            if new and new[-1].at == step.at:
                new.pop()
            if not new or new[-1].state is not step.state:
                new.append(step)
        if new == self.history:
            return None
        self.history = new
        return at

    # ---- reading ----------------------------------------------------------------------------

    def _contribution(self) -> State:
        if self.hard is State.DOWN:
            return State.DOWN if self.check.impact is Impact.DOWN else State.DEGRADED
        if self.hard is State.UP and self.last_outcome == Outcome.DEGRADED.value:
            return State.DEGRADED
        return self.hard

    def contribution_at(self, at: datetime) -> State:
        return contribution_at(self.history, at)

    def step_at(self, at: datetime) -> CheckStep | None:
        return step_at(self.history, at)

    def instant_state(self) -> State:
        """The raw latest outcome as a state, for flapping (no confirmation)."""
        if self.last_outcome == Outcome.FAIL.value:
            return State.DOWN if self.check.impact is Impact.DOWN else State.DEGRADED
        if self.last_outcome == Outcome.DEGRADED.value:
            return State.DEGRADED
        if self.last_outcome == Outcome.OK.value:
            return State.UP
        return State.UNKNOWN

    def pending_since(self) -> datetime | None:
        """Start of the run that may still be confirmed (and backdated to), if any."""
        return self.ok_started_at if self.hard is State.DOWN else self.fail_started_at

    def prune(self, horizon: datetime) -> None:
        """Forget steps no future backdated change can reach (keep the one before horizon)."""
        older = [i for i, s in enumerate(self.history) if s.at < horizon]
        if len(older) > 1:
            del self.history[: older[-1]]

    # ---- persistence ------------------------------------------------------------------------

    def status(self) -> CheckStatus:
        return CheckStatus(
            check=self.check.id,
            service=self.check.service,
            hard_state=self.hard,
            since=self.since,
            fail_count=self.fail_count,
            fail_started_at=self.fail_started_at,
            fail_reason=self.fail_reason,
            ok_count=self.ok_count,
            ok_started_at=self.ok_started_at,
            last_outcome=self.last_outcome,
            last_result_at=self.last_result_at,
            last_reason=self.last_reason,
            history=tuple(self.history),
        )

    def _restore(self, status: CheckStatus) -> None:
        self.hard, self.since = status.hard_state, status.since
        self.fail_count, self.fail_started_at = status.fail_count, status.fail_started_at
        self.fail_reason = status.fail_reason
        self.ok_count, self.ok_started_at = status.ok_count, status.ok_started_at
        self.last_outcome, self.last_result_at = status.last_outcome, status.last_result_at
        self.last_reason = status.last_reason
        self.history = list(status.history) or self._history_from_state()

    def _history_from_state(self) -> list[CheckStep]:
        """A store that did not keep `history`: rebuild what the hard state tells."""
        if self.since is None or self.hard is State.UNKNOWN:
            return []
        hard = State.DOWN if self.hard is State.DOWN else State.UP
        reason = self.last_reason if hard is State.DOWN else ""
        steps = [CheckStep(self.since, hard if hard is State.UP else self._contribution(), reason)]
        current = self._contribution()
        if current is not steps[0].state and self.last_result_at is not None:
            steps.append(CheckStep(max(self.last_result_at, self.since), current))
        return steps


def contribution_at(history: Iterable[CheckStep], at: datetime) -> State:
    """The state a check's contribution history held at `at` (UNKNOWN before its first step)."""
    state = State.UNKNOWN
    for step in history:
        if step.at > at:
            break
        state = step.state
    return state


def step_at(history: Iterable[CheckStep], at: datetime) -> CheckStep | None:
    return next((s for s in history if s.at == at), None)
