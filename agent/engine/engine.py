"""The engine facade: probe results in, effects out, in the order the store applies them.

Plain synchronous code with no clock of its own: every instant comes from the results, so tests
replay result sequences with explicit timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from agent.catalog.model import LOCAL, Catalog, Check, Service
from agent.engine import attribution
from agent.engine.checkstate import CheckMachine
from agent.engine.incidents import Context
from agent.engine.multilocation import MultiLocationCheck
from agent.engine.saving import SavedStatuses
from agent.engine.service import combine
from agent.engine.tracked import Judge, ServiceRuntime, resume
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    CheckStatus,
    Effect,
    FlappingChanged,
    Incident,
    IncidentSaved,
    ResultRecorded,
    ResultsDropped,
    ServiceStatus,
    Snapshot,
    State,
    UnknownRecorded,
)
from checks.result import Outcome, ProbeResult


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
        self._services: dict[str, ServiceRuntime] = {}
        self._by_service: dict[str, list[Judge]] = {}
        self._saved = SavedStatuses()
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
        effects += self._saved.after_result(machine, runtime)
        if isinstance(machine, MultiLocationCheck):
            effects += self._saved.after_location_result(machine, location)
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
        effects += self._saved.after_result(machine, runtime)
        return effects + self._saved.after_location_result(machine, location)

    def reload(self, catalog: Catalog) -> list[Effect]:
        """Only new checks and services need a saved status (UNKNOWN) for the board."""
        before_checks, before_services = set(self._checks), set(self._services)
        self.catalog = catalog
        self._track(catalog)
        effects: list[Effect] = [
            self._saved.check(m.status()) for c, m in self._checks.items() if c not in before_checks
        ]
        effects += [
            self._saved.service(r, r.status())
            for sid, r in self._services.items()
            if sid not in before_services
        ]
        return effects

    def shutdown(self, at: datetime) -> list[Effect]:
        # `at` is not needed: the gap until the next result is found by `last_seen` on restart
        effects: list[Effect] = [self._saved.check(m.status()) for m in self._checks.values()]
        effects += [self._saved.service(r, r.status()) for r in self._services.values()]
        for machine in self._checks.values():
            if isinstance(machine, MultiLocationCheck):
                states = map(machine.location_state, machine.locations)
                effects += [self._saved.location(state) for state in states]
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
                self._saved.forget_check(check.id)
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
        self._saved.keep_only(checks)
        self._by_service = {s.id: [checks[c.id] for c in s.checks] for s in catalog.services}
        services: dict[str, ServiceRuntime] = {}
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

    def _resume(self, service: Service) -> ServiceRuntime:
        return resume(service, self._snapshot, self.calendar)

    def _machines(self, service: str) -> list[Judge]:
        return self._by_service.get(service, [])

    # ---- one result -------------------------------------------------------------------------

    def _silence(self, runtime: ServiceRuntime, result: ProbeResult) -> list[Effect]:
        """Unknown time from the last known result when the gap exceeds the threshold (§4)."""
        last, at = runtime.last_seen, result.started_at
        runtime.last_seen = at if last is None else max(last, at)
        if last is None or (at - last).total_seconds() <= runtime.service.silence_threshold:
            return []
        return [UnknownRecorded(runtime.service.id, last, at)]

    def _flap(self, runtime: ServiceRuntime, result: ProbeResult) -> list[Effect]:
        instant = _instant_state(self._machines(runtime.service.id))
        svc = runtime.service
        changed, percent = runtime.flap.add(instant.value, svc.flap_start, svc.flap_stop)
        if not changed:
            return []
        return [FlappingChanged(svc.id, result.started_at, runtime.flap.flapping, percent)]

    def _rewrite(
        self, runtime: ServiceRuntime, at: datetime, confirmed_at: datetime, late: bool = False
    ) -> list[Effect]:
        sid = runtime.service.id
        down_before = runtime.timeline.down_start()
        rewritten = runtime.timeline.rewrite(at, self._machines(sid))
        if rewritten is None:
            return []
        open_before = runtime.book.open
        machines = self._machines(sid)
        cause_of = attribution.cause_of(machines)
        ctx = Context(confirmed_at, runtime.flap.flapping, cause_of, self._new_id)
        changed = runtime.book.reconcile(runtime.timeline.down_intervals(at), ctx)
        changed = attribution.locate(runtime, machines, changed, late)
        opened = runtime.book.open
        by_id = self.catalog.by_id
        if opened is not None and (open_before is None or open_before != opened):
            changed = attribution.attribute(
                runtime, changed, attribution.any_start, self._services, by_id
            )
        effects: list[Effect] = [rewritten, *(IncidentSaved(i) for i in changed)]
        down_after = runtime.timeline.down_start()
        if down_after is not None and down_after != down_before:
            effects += attribution.inhibit_children(sid, self._services, by_id)
        return effects

    def _count_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _prune(self, runtime: ServiceRuntime, at: datetime) -> None:
        """Drop history no future backdated confirmation can reach."""
        last = runtime.last_result_at
        runtime.last_result_at = at if last is None else max(last, at)
        machines = self._machines(runtime.service.id)
        pending = [p for m in machines if (p := m.pending_since()) is not None]
        horizon = min([runtime.last_result_at, *pending])
        for machine in machines:
            machine.prune(horizon)
        runtime.timeline.prune(horizon)


def _instant_state(machines: list[Judge]) -> State:
    return combine(m.instant_state() for m in machines)


def _incidents(snapshot: Snapshot) -> list[Incident]:
    return [*snapshot.open_incidents.values(), *snapshot.last_incidents.values()]
