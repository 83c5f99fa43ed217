"""The engine facade: probe results in, effects out, in the order the store applies them.

Plain synchronous code with no clock of its own: every instant comes from the results, so tests
replay result sequences with explicit timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from agent.catalog.model import LOCAL, Catalog, Check, Impact, Service
from agent.engine.checkstate import CheckMachine
from agent.engine.dependencies import descendants, root_cause
from agent.engine.flapping import HISTORY as FLAP_HISTORY
from agent.engine.flapping import FlapDetector
from agent.engine.incidents import Context, IncidentBook
from agent.engine.multilocation import MultiLocationCheck
from agent.engine.service import Timeline, combine
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    CheckStatus,
    CheckStatusSaved,
    Effect,
    FlappingChanged,
    Incident,
    IncidentSaved,
    LocationState,
    LocationStateSaved,
    ResultRecorded,
    ResultsDropped,
    ServiceStatus,
    ServiceStatusSaved,
    Snapshot,
    State,
    Transition,
    UnknownRecorded,
)
from checks.result import Outcome, ProbeResult

Judge = CheckMachine | MultiLocationCheck  # one check's contribution to its service
_Predicate = Callable[[Service, datetime], bool]  # (parent, its DOWN start) explains?
_CauseOf = Callable[[datetime], str]

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


@dataclass
class _ServiceRuntime:
    service: Service
    timeline: Timeline
    book: IncidentBook
    flap: FlapDetector = field(default_factory=FlapDetector)
    last_seen: datetime | None = None
    last_result_at: datetime | None = None
    saved: ServiceStatus | None = None  # the status as last emitted for the store

    def status(self) -> ServiceStatus:
        now = self.timeline.current
        incident = self.book.open
        return ServiceStatus(
            service=self.service.id,
            state=now.state if now else State.UNKNOWN,
            since=now.at if now else None,
            last_seen_at=self.last_seen,
            flapping=self.flap.flapping,
            flap_history=tuple(self.flap.history),
            open_incident=incident.id if incident else None,
        )


class Engine:
    def __init__(
        self,
        catalog: Catalog,
        calendar: MaintenanceCalendar,
        snapshot: Snapshot | None = None,
        new_id: Callable[[], int] | None = None,
    ) -> None:
        """`new_id` numbers new incidents; the running agent passes ids from the database
        (agent/engine/ids.py). Without it, a counter continues the snapshot's numbers."""
        self.catalog = catalog
        self.calendar = calendar
        snap = snapshot or Snapshot()
        self._checks: dict[str, Judge] = {}
        self._services: dict[str, _ServiceRuntime] = {}
        self._by_service: dict[str, list[Judge]] = {}
        self._saved_checks: dict[str, CheckStatus] = {}  # as last emitted for the store
        self._saved_locations: dict[tuple[str, str], LocationState] = {}  # (check, location)
        self._snapshot = snap
        self._next_id = max([snap.next_incident_id, *(i.id + 1 for i in _incidents(snap))])
        self._new_id = new_id or self._count_id
        self._track(catalog)
        self._snapshot = Snapshot()  # only the first catalogue resumes from it

    # ---- public API -------------------------------------------------------------------------

    def observe(self, result: ProbeResult, location: str = LOCAL) -> list[Effect]:
        """One result of one location (`local`: the core's own probes)."""
        in_maintenance = self.calendar.in_planned(result.service, result.started_at)
        effects: list[Effect] = [ResultRecorded(result, in_maintenance, location)]
        machine = self._checks.get(result.check)
        runtime = self._services.get(result.service)
        if machine is None or runtime is None or location not in machine.check.locations:
            return effects  # not (or no longer) in the catalogue: record it, judge nothing
        known = result.outcome is not Outcome.UNKNOWN
        if known:
            effects += self._silence(runtime, result)
        if isinstance(machine, MultiLocationCheck):
            changed_at = machine.observe(result, location)
            late = machine.last_late
        else:
            changed_at, late = machine.observe(result), False
        flap_effects = self._flap(runtime, result) if known else []
        if changed_at is not None:
            confirmed_at = result.started_at + timedelta(seconds=result.duration)
            effects += self._rewrite(runtime, changed_at, confirmed_at, late)
        effects += flap_effects
        self._prune(runtime, result.started_at)
        effects += self._statuses(machine, runtime)
        if isinstance(machine, MultiLocationCheck):
            effects += self._location_state(machine, location)
        return effects

    def dropped(
        self, check: str, location: str, first: datetime, last: datetime, count: int = 1
    ) -> list[Effect]:
        """A worker's spool dropped `count` of a location's results of `check` in [first,
        last]: recorded, and that location is unknown for it then (§8); only a check judged
        over locations has a location state to change."""
        machine = self._checks.get(check)
        runtime = self._services.get(check.split("/", 1)[0])
        if machine is None or runtime is None or location not in machine.check.locations:
            return []
        effects: list[Effect] = [
            ResultsDropped(check, runtime.service.id, location, first, last, count)
        ]
        if not isinstance(machine, MultiLocationCheck):
            return effects
        changed_at = machine.dropped(location, first, last)
        if changed_at is None:
            return effects
        effects += self._rewrite(runtime, changed_at, last, late=True)
        effects += self._statuses(machine, runtime)
        return effects + self._location_state(machine, location)

    def reload(self, catalog: Catalog) -> list[Effect]:
        """Only new checks and services need a saved status (UNKNOWN) for the board."""
        before_checks, before_services = set(self._checks), set(self._services)
        self.catalog = catalog
        self._track(catalog)
        effects: list[Effect] = [
            self._save_check(m.status()) for c, m in self._checks.items() if c not in before_checks
        ]
        effects += [
            self._save_service(r, r.status())
            for sid, r in self._services.items()
            if sid not in before_services
        ]
        return effects

    def shutdown(self, at: datetime) -> list[Effect]:
        # `at` is not needed: the gap until the next result is found by `last_seen` on restart
        effects: list[Effect] = [self._save_check(m.status()) for m in self._checks.values()]
        effects += [self._save_service(r, r.status()) for r in self._services.values()]
        for machine in self._checks.values():
            if isinstance(machine, MultiLocationCheck):
                states = map(machine.location_state, machine.locations)
                effects += [self._save_location(state) for state in states]
        return effects

    # ---- several core nodes: partitions gained and lost (semantics.md §9) ---------------------

    def adopt(self, snapshot: Snapshot, services: Iterable[str]) -> None:
        """Take these services over from `snapshot`, read from the database after the lease
        was claimed, exactly as a restart resumes them: an open incident goes on with its id
        and start, silence is measured from the last stored result."""
        self._snapshot = snapshot
        try:
            self._restart(services)
        finally:
            self._snapshot = Snapshot()

    def forget(self, services: Iterable[str]) -> None:
        """Drop what this node knew of these services (another node owns them now): if they
        come back, `adopt` reads them afresh."""
        self._restart(services)

    def _restart(self, services: Iterable[str]) -> None:
        for sid in services:
            service = self.catalog.by_id.get(sid)
            if service is None:
                continue
            machines: list[Judge] = []
            for check in service.checks:
                self._saved_checks.pop(check.id, None)
                self._checks[check.id] = self._judge(check, None)
                machines.append(self._checks[check.id])
            self._by_service[sid] = machines
            self._services[sid] = self._resume(service)

    def service_status(self, service: str) -> ServiceStatus:
        return self._services[service].status()

    def last_seen(self, service: str) -> datetime | None:
        """The instant of the service's newest result (None before the first)."""
        return self._services[service].last_seen

    def check_status(self, check: str) -> CheckStatus:
        return self._checks[check].status()

    def location_statuses(self, check: str) -> dict[str, CheckStatus]:
        """Each location's own hard state of a check (one entry, `local`, for most checks)."""
        machine = self._checks[check]
        if isinstance(machine, MultiLocationCheck):
            return {name: machine.location_status(name) for name in machine.locations}
        return {LOCAL: machine.status()}

    def failing_locations(self, check: str) -> tuple[str, ...]:
        """Locations where the check is hard DOWN while its verdict is not: a location
        problem, for the `LocationCheckFailing` alert (semantics.md §8)."""
        machine = self._checks.get(check)
        if isinstance(machine, MultiLocationCheck):
            return machine.failing_below_quorum()
        return ()

    def open_incident(self, service: str) -> Incident | None:
        return self._services[service].book.open

    # ---- tracking the catalogue -------------------------------------------------------------

    def _track(self, catalog: Catalog) -> None:
        """Keep state of what is still there (with its new settings), forget the rest."""
        checks: dict[str, Judge] = {}
        for check in catalog.checks.values():
            checks[check.id] = self._judge(check, self._checks.get(check.id))
        self._checks = checks
        self._saved_checks = {c: s for c, s in self._saved_checks.items() if c in checks}
        self._saved_locations = {
            key: state for key, state in self._saved_locations.items() if key[0] in checks
        }
        self._by_service = {s.id: [checks[c.id] for c in s.checks] for s in catalog.services}
        services: dict[str, _ServiceRuntime] = {}
        for service in catalog.services:
            runtime = self._services.get(service.id) or self._resume(service)
            runtime.service = service
            runtime.book.service = service
            services[service.id] = runtime
        self._services = services

    def _judge(self, check: Check, machine: Judge | None) -> Judge:
        """The check's machine, kept across reloads while its locations stay the same.

        New timing applies from the next result on. A multi-location check whose locations
        changed starts afresh; at start one resumes from its saved verdict and locations.
        """
        if check.multi_location:
            if isinstance(machine, MultiLocationCheck) and machine.check.locations == (
                check.locations
            ):
                machine.retarget(check)
                return machine
            snap = self._snapshot
            states = snap.locations.get(check.id, {})
            return MultiLocationCheck(check, snap.checks.get(check.id), states)
        if not isinstance(machine, CheckMachine):
            machine = CheckMachine(check, self._snapshot.checks.get(check.id))
        machine.check = check
        return machine

    def _resume(self, service: Service) -> _ServiceRuntime:
        snap = self._snapshot
        status = snap.services.get(service.id)
        steps = snap.recent_transitions.get(service.id, ())
        if not steps and status is not None and status.since is not None:
            steps = (_transition(status),)
        last = snap.open_incidents.get(service.id) or snap.last_incidents.get(service.id)
        runtime = _ServiceRuntime(
            service, Timeline(service.id, steps), IncidentBook(service, self.calendar, last)
        )
        if status is not None:
            runtime.flap = FlapDetector(list(status.flap_history), status.flapping)
            runtime.last_seen = status.last_seen_at
        return runtime

    def _machines(self, service: str) -> list[Judge]:
        return self._by_service.get(service, [])

    # ---- one result -------------------------------------------------------------------------

    def _statuses(self, machine: Judge, runtime: _ServiceRuntime) -> list[Effect]:
        """The statuses to save after a result: see `SAVE_EVERY_SECONDS`."""
        effects: list[Effect] = []
        check = machine.status()
        saved = self._saved_checks.get(check.check)
        if saved is None or not _same_check(saved, check, _save_every(machine.check.interval)):
            effects.append(self._save_check(check))
        status = runtime.status()
        saved_status = runtime.saved
        interval = max((c.interval for c in runtime.service.checks), default=0.0)
        if saved_status is None or not _same_service(saved_status, status, _save_every(interval)):
            effects.append(self._save_service(runtime, status))
        return effects

    def _location_state(self, machine: MultiLocationCheck, location: str) -> list[Effect]:
        """The location's state after a result, when a restart would need it saved."""
        state = machine.location_state(location)
        saved = self._saved_locations.get((state.check, location))
        if saved is not None and _same_location(saved, state):
            return []
        return [self._save_location(state)]

    def _save_location(self, state: LocationState) -> LocationStateSaved:
        self._saved_locations[(state.check, state.location)] = state
        return LocationStateSaved(state)

    def _save_check(self, status: CheckStatus) -> CheckStatusSaved:
        self._saved_checks[status.check] = status
        return CheckStatusSaved(status)

    def _save_service(self, runtime: _ServiceRuntime, status: ServiceStatus) -> ServiceStatusSaved:
        runtime.saved = status
        return ServiceStatusSaved(status)

    def _silence(self, runtime: _ServiceRuntime, result: ProbeResult) -> list[Effect]:
        """Unknown time from the last known result when the gap exceeds the threshold (§4)."""
        last, at = runtime.last_seen, result.started_at
        runtime.last_seen = at if last is None else max(last, at)
        if last is None or (at - last).total_seconds() <= runtime.service.silence_threshold:
            return []
        return [UnknownRecorded(runtime.service.id, last, at)]

    def _flap(self, runtime: _ServiceRuntime, result: ProbeResult) -> list[Effect]:
        instant = _instant_state(self._machines(runtime.service.id))
        svc = runtime.service
        changed, percent = runtime.flap.add(instant.value, svc.flap_start, svc.flap_stop)
        if not changed:
            return []
        return [FlappingChanged(svc.id, result.started_at, runtime.flap.flapping, percent)]

    def _rewrite(
        self, runtime: _ServiceRuntime, at: datetime, confirmed_at: datetime, late: bool = False
    ) -> list[Effect]:
        sid = runtime.service.id
        down_before = runtime.timeline.down_start()
        rewritten = runtime.timeline.rewrite(at, self._machines(sid))
        if rewritten is None:
            return []
        open_before = runtime.book.open
        ctx = Context(confirmed_at, runtime.flap.flapping, self._cause_of(sid), self._new_id)
        changed = runtime.book.reconcile(runtime.timeline.down_intervals(at), ctx)
        changed = self._locate(runtime, changed, late)
        opened = runtime.book.open
        if opened is not None and (open_before is None or open_before != opened):
            changed = self._attribute(runtime, changed, lambda _parent, _start: True)
        effects: list[Effect] = [rewritten, *(IncidentSaved(i) for i in changed)]
        down_after = runtime.timeline.down_start()
        if down_after is not None and down_after != down_before:
            effects += self._inhibit_children(sid)
        return effects

    def _locate(
        self, runtime: _ServiceRuntime, changed: list[Incident], late: bool
    ) -> list[Incident]:
        """Name the locations that formed the quorum; mark what late results changed (§8)."""
        multi = [m for m in self._machines(runtime.service.id) if isinstance(m, MultiLocationCheck)]
        if not multi:
            return changed
        located: list[Incident] = []
        for incident in changed:
            names = set(incident.locations)
            for fragment in incident.fragments:
                for machine in multi:
                    names |= set(machine.down_locations_at(fragment.started_at))
            updated = replace(
                incident, locations=tuple(sorted(names)), retroactive=incident.retroactive or late
            )
            if runtime.book.last is not None and runtime.book.last.id == incident.id:
                runtime.book.replace(updated)
            located.append(updated)
        return located

    def _attribute(
        self, runtime: _ServiceRuntime, changed: list[Incident], started_ok: _Predicate
    ) -> list[Incident]:
        """Set root cause and inhibition on the open incident from DOWN ancestors (§2)."""
        incident = runtime.book.open
        if incident is None:
            return changed

        def is_cause(parent: str) -> bool:
            start = self._services[parent].timeline.down_start()
            return start is not None and started_ok(self.catalog.by_id[parent], start)

        cause = root_cause(self.catalog.by_id, runtime.service.id, is_cause)
        if cause is None or cause == incident.root_cause:
            return changed
        updated = replace(incident, root_cause=cause, inhibited=True)
        runtime.book.replace(updated)
        return [i for i in changed if i.id != updated.id] + [updated]

    def _inhibit_children(self, parent: str) -> list[Effect]:
        """A parent went DOWN (or its start moved): children whose incident it explains."""
        effects: list[Effect] = []
        for child in descendants(self.catalog.by_id, parent):
            runtime = self._services[child]
            incident = runtime.book.open
            if incident is None:
                continue
            changed = self._attribute(runtime, [], _not_after(incident.started_at))
            effects += [IncidentSaved(i) for i in changed]
        return effects

    def _cause_of(self, service: str) -> _CauseOf:
        machines = [m for m in self._machines(service) if m.check.impact is Impact.DOWN]

        def cause_of(at: datetime) -> str:
            for machine in machines:
                step = machine.step_at(at)
                if step is not None and step.state is State.DOWN:
                    return f"{machine.check.id}: {step.reason}"
            return ""

        return cause_of

    def _count_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _prune(self, runtime: _ServiceRuntime, at: datetime) -> None:
        """Drop history no future backdated confirmation can reach."""
        last = runtime.last_result_at
        runtime.last_result_at = at if last is None else max(last, at)
        machines = self._machines(runtime.service.id)
        pending = [p for m in machines if (p := m.pending_since()) is not None]
        horizon = min([runtime.last_result_at, *pending])
        for machine in machines:
            machine.prune(horizon)
        runtime.timeline.prune(horizon)


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


def _instant_state(machines: list[Judge]) -> State:
    return combine(m.instant_state() for m in machines)


def _incidents(snapshot: Snapshot) -> list[Incident]:
    return [*snapshot.open_incidents.values(), *snapshot.last_incidents.values()]


def _transition(status: ServiceStatus) -> Transition:
    assert status.since is not None
    return Transition(status.service, status.since, status.state)


def _not_after(start: datetime) -> _Predicate:
    """A parent explains a child's incident when its DOWN started no later than one parent
    interval after the child's: the parent is only probed once per interval, so a child probed
    earlier in that interval can see the shared outage first."""

    def explains(parent: Service, down: datetime) -> bool:
        interval = max((c.interval for c in parent.checks), default=parent.timing.interval)
        return down <= start + timedelta(seconds=interval)

    return explains
