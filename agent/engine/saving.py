"""Which statuses the engine hands the store after a result, and which it may skip."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import replace
from datetime import datetime

from agent.engine.flapping import HISTORY as FLAP_HISTORY
from agent.engine.multilocation import MultiLocationCheck
from agent.engine.tracked import Judge, ServiceRuntime
from agent.records import (
    CheckStatus,
    CheckStatusSaved,
    Effect,
    LocationState,
    LocationStateSaved,
    ServiceStatus,
    ServiceStatusSaved,
)

SAVE_EVERY_SECONDS = 60.0
"""A status whose only change is its newest result's instant (`CheckStatus.last_result_at`,
`ServiceStatus.last_seen_at`) is saved at most this often (and at most every 1.5 intervals, so
a reader of the stored row still sees the service as observed: the row lags the newest result
by under two intervals, within the silence threshold). Every other change is saved with the
result that caused it. A restart takes the newest instants from the stored probe results
(`Store.load_snapshot`), so it resumes exactly as if every status had been saved."""

LOCATION_SAVE_EVERY_SECONDS = 600.0
"""The same for one location's state of a check judged over several locations (§8): saved with
every change, and otherwise this often. A restart takes each location's newest result from the
stored results too, so the throttle only bounds that look-up (a few results per location), and
the 3 x 10,000 location states of a large estate cost ~50 writes/s, not one per result."""


class SavedStatuses:
    """The statuses as last emitted for the store (a service's lives on its runtime)."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckStatus] = {}
        self._locations: dict[tuple[str, str], LocationState] = {}  # (check, location)

    def keep_only(self, checks: Container[str]) -> None:
        """Forget the checks no longer in the catalogue."""
        self._checks = {c: s for c, s in self._checks.items() if c in checks}
        self._locations = {key: s for key, s in self._locations.items() if key[0] in checks}

    def forget_check(self, check: str) -> None:
        self._checks.pop(check, None)

    def after_result(self, machine: Judge, runtime: ServiceRuntime) -> list[Effect]:
        """The statuses to save after a result: see `SAVE_EVERY_SECONDS`."""
        effects: list[Effect] = []
        check = machine.status()
        saved = self._checks.get(check.check)
        if saved is None or not _same_check(saved, check, _save_every(machine.check.interval)):
            effects.append(self.check(check))
        status = runtime.status()
        saved_status = runtime.saved
        interval = max((c.interval for c in runtime.service.checks), default=0.0)
        if saved_status is None or not _same_service(saved_status, status, _save_every(interval)):
            effects.append(self.service(runtime, status))
        return effects

    def after_location_result(self, machine: MultiLocationCheck, location: str) -> list[Effect]:
        """The location's state after a result, when a restart would need it saved."""
        state = machine.location_state(location)
        saved = self._locations.get((state.check, location))
        if saved is not None and _same_location(saved, state):
            return []
        return [self.location(state)]

    def location(self, state: LocationState) -> LocationStateSaved:
        self._locations[(state.check, state.location)] = state
        return LocationStateSaved(state)

    def check(self, status: CheckStatus) -> CheckStatusSaved:
        self._checks[status.check] = status
        return CheckStatusSaved(status)

    def service(self, runtime: ServiceRuntime, status: ServiceStatus) -> ServiceStatusSaved:
        runtime.saved = status
        return ServiceStatusSaved(status)


def _save_every(interval: float) -> float:
    return min(SAVE_EVERY_SECONDS, 1.5 * interval)


def _recent(saved: datetime | None, now: datetime | None, every: float) -> bool:
    """`now` is `saved`, or later by less than `every` seconds (a status not worth saving)."""
    if saved is None or now is None:
        return saved == now
    return saved <= now and (now - saved).total_seconds() < every


def _same_check(saved: CheckStatus, now: CheckStatus, every: float) -> bool:
    return _recent(saved.last_result_at, now.last_result_at, every) and saved == replace(
        now, last_result_at=saved.last_result_at
    )


def _same_location(saved: LocationState, now: LocationState) -> bool:
    every = LOCATION_SAVE_EVERY_SECONDS
    return _same_check(saved.status, now.status, every) and saved == replace(
        now, status=saved.status
    )


def _same_service(saved: ServiceStatus, now: ServiceStatus, every: float) -> bool:
    """A flap history still filling up with one state is as good as the padded one: the
    flapping percent aligns a short history on its newest entry, padded with its oldest."""
    if not _recent(saved.last_seen_at, now.last_seen_at, every):
        return False
    if saved.flap_history != now.flap_history and _padded(saved) != _padded(now):
        return False
    return saved == replace(now, last_seen_at=saved.last_seen_at, flap_history=saved.flap_history)


def _padded(status: ServiceStatus) -> tuple[str, ...]:
    history = status.flap_history
    return (*history[:1] * (FLAP_HISTORY - len(history)), *history)
