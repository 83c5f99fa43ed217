"""Rule evaluation: engine events and probe results in, alert notifications out.

Plain code with an injected clock: `observe()` after each probe result, `tick()` periodically
(time conditions, `for` durations, change holds, agent conditions). Which rules apply to what
is alerting/matching.py; each condition is a function of alerting/conditions.py; the alert
states and their moves are alerting/state.py, what suppresses one alerting/suppression.py,
its labels alerting/labels.py, and what is remembered of incidents alerting/outages.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from functools import partial
from itertools import takewhile
from operator import eq
from typing import Any

from agent.catalog.model import Catalog, Check
from agent.records import Effect, Incident, IncidentSaved, ServiceStatus
from alerting import conditions as cond
from alerting.labels import Labeller
from alerting.matching import RuleMatcher
from alerting.notification import Notification
from alerting.outages import Interval, Outages
from alerting.rules import Rule
from alerting.state import AlertMachine, AlertState, Subject
from alerting.status_source import StatusSource
from alerting.suppression import Planned, Suppression
from checks.clock import Clock
from checks.result import ProbeResult

# AlertState lives in alerting/state.py; named here too for code written before the split
__all__ = ["AlertEvaluator", "AlertState"]

Signals = Callable[[], Mapping[str, float]]


class AlertEvaluator:
    def __init__(
        self,
        rules: Sequence[Rule],
        catalog: Catalog,
        calendar: Planned,
        clock: Clock,
        status: StatusSource,
        signals: Signals = dict,
        console_url: str = "",
    ) -> None:
        self._matcher = RuleMatcher(rules, catalog)
        self._catalog = catalog  # also the matcher's: read for every result, kept at hand
        self._suppression = Suppression(calendar, catalog)
        self._labeller = Labeller(catalog, console_url)
        self._outages = Outages(clock)
        self._machine = AlertMachine(self._suppression, self._labeller.label, self._outage)
        self._seen: dict[str, tuple[ServiceStatus, Incident | None]] = {}  # last evaluated
        self._previous: dict[str, dict[str, Any]] = {}  # check -> last measurements
        self.clock = clock
        self.status = status
        self.signals = signals

    # ---- what it evaluates, and what it holds -----------------------------------------------

    @property
    def rules(self) -> list[Rule]:
        return self._matcher.rules

    @rules.setter
    def rules(self, rules: Sequence[Rule]) -> None:
        self._matcher.rules = rules
        self._seen = {}

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        self._catalog = self._matcher.catalog = catalog
        self._suppression.catalog = self._labeller.catalog = catalog
        self._seen = {}

    @property
    def calendar(self) -> Planned:
        return self._suppression.calendar

    @property
    def alerts(self) -> dict[str, AlertState]:
        return self._machine.alerts

    @alerts.setter
    def alerts(self, alerts: dict[str, AlertState]) -> None:
        self._machine.alerts = alerts

    def _outage(self, alert: AlertState) -> Interval | None:
        return self._outages.interval(alert.service or "", alert.incident_id or -1)

    # ---- inputs -----------------------------------------------------------------------------

    def observe(self, result: ProbeResult, effects: Iterable[Effect] = ()) -> list[Notification]:
        """After the engine saw `result` (and produced `effects`): re-evaluate its subjects."""
        now = self.clock.now()
        touched: set[str] = set()
        for effect in effects:
            if isinstance(effect, IncidentSaved):
                touched |= self._outages.track(effect.incident)
        out: list[Notification] = []
        check = self.catalog.checks.get(result.check)
        if check is not None:
            out += self._evaluate_check(check, result, now)
            self._previous[check.id] = dict(result.measurements)
        if result.service not in touched and self._unchanged(result.service):
            touched.discard(result.service)
        else:
            touched.add(result.service)
        for sid in touched:
            out += self._evaluate_service(sid, now)
        return out

    def _unchanged(self, sid: str) -> bool:
        """Whether the service's rules cannot have changed since they were last evaluated
        here: same status (but for the newest result's instant, which no condition reads),
        same incident, no open incident (escalations are timed), no alert of the service
        (`for` durations, holds and suppressions are timed). Time alone cannot make any other
        service condition true: burn rates only fall without a new outage, which comes with
        an incident change. `tick()` still evaluates every service with alerts or outages."""
        service = self.catalog.by_id.get(sid)
        if service is None:
            return True
        status, incident = self.status.service_status(sid), self.status.open_incident(sid)
        flaps = _collapsed(status.flap_history)
        key = (replace(status, last_seen_at=None, flap_history=flaps), incident)
        if self._seen.get(sid) != key:
            self._seen[sid] = key
            return False
        if incident is not None:
            return False
        return not any(k in self.alerts for k in self._matcher.alert_ids_of_service(service))

    def tick(self) -> list[Notification]:
        """Time-driven work: escalations, burn rates, `for` durations, holds, the agent."""
        now = self.clock.now()
        services = {a.service for a in self.alerts.values() if a.service}
        out: list[Notification] = []
        for sid in services | self._outages.services():
            out += self._evaluate_service(sid, now)
        out += self._machine.expire_holds(now)
        out += self._evaluate_agent(now)
        return out

    def acknowledge(self, alert_id: str, author: str, comment: str, at: datetime) -> bool:
        """Stops reminders for this alert; it is still recorded and still resolves."""
        return self._machine.acknowledge(alert_id, author, comment, at)

    def reload(self, rules: Sequence[Rule], catalog: Catalog) -> None:
        self.rules, self.catalog = list(rules), catalog
        names = {r.name for r in rules}
        self._machine.drop([a for a, s in self.alerts.items() if s.rule not in names])

    def reminders_due(self, every: float) -> list[Notification]:
        """Firing, unacknowledged alerts not notified for `every` seconds: notify them again."""
        return self._machine.reminders_due(self.clock.now(), every)

    def firing_notifications(self) -> list[Notification]:
        """Every notified, still-firing alert: what the Alertmanager resend protocol repeats."""
        return self._machine.firing_notifications()

    def forget(self, services: Iterable[str]) -> None:
        """Another node owns these services now (semantics.md §9): drop their alerts without
        resolving them (the new owner carries them on) and what was learnt of their outages."""
        gone = set(services)
        self._machine.drop([a for a, s in self.alerts.items() if s.service in gone])
        self._outages.forget(gone)
        for sid in gone:
            self._seen.pop(sid, None)

    def forget_cluster(self) -> None:
        """Another node judges the cluster rules now (it holds partition 0): drop their alerts
        without resolving them; that node loaded them and carries them on."""
        self._machine.drop([a for a in self.alerts if cond.is_cluster_alert(a)])

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in self.alerts.values()]

    # ---- subjects ---------------------------------------------------------------------------

    def _evaluate_service(self, sid: str, now: datetime) -> list[Notification]:
        service = self.catalog.by_id.get(sid)
        if service is None or not self._matcher.of_service(service):
            return []
        view = cond.ServiceView(
            service=service,
            status=self.status.service_status(sid),
            incident=self.status.open_incident(sid),
            now=now,
            root_of=self._outages.children(sid),
            down_intervals=self._outages.down_intervals(sid),
        )
        out: list[Notification] = []
        for rule in self._matcher.of_service(service):
            active = cond.SERVICE_CONDITIONS[rule.when](rule, view)
            subject = Subject(f"{rule.name}/{sid}", service, None, view.status, view.incident)
            out += self._machine.update(rule, subject, active, now)
        return out

    def _evaluate_check(
        self, check: Check, result: ProbeResult, now: datetime
    ) -> list[Notification]:
        service = self.catalog.by_id[check.service]
        view = cond.CheckView(
            check, result, self._previous.get(check.id, {}), self.status.failing_locations(check.id)
        )
        out: list[Notification] = []
        for rule in self._matcher.of_check(check, service):
            active = cond.CHECK_CONDITIONS[rule.when](rule, view)
            status = self.status.service_status(service.id)
            incident = self.status.open_incident(service.id)
            subject = Subject(f"{rule.name}/{check.id}", service, check, status, incident)
            out += self._machine.update(rule, subject, active, now)
        return out

    def _evaluate_agent(self, now: datetime) -> list[Notification]:
        view = cond.AgentView(now, self.signals())
        out: list[Notification] = []
        for rule in self._matcher.of_kinds(cond.AGENT):
            active = cond.AGENT_CONDITIONS[rule.when](rule, view)
            subject = Subject(rule.name, None, None, None, None)
            out += self._machine.update(rule, subject, active, now)
        out += self._evaluate_cluster(view)
        return out

    def _evaluate_cluster(self, view: cond.AgentView) -> list[Notification]:
        """The cluster rules, on the one node that judges them (the holder of partition 0:
        the others have no `cluster_judge` signal and leave these alerts to it)."""
        if not view.signals.get(cond.CLUSTER_JUDGE):
            return []
        out: list[Notification] = []
        for rule in self._matcher.of_kinds(cond.CLUSTER):
            found = cond.CLUSTER_CONDITIONS[rule.when](rule, view)
            subjects = {cond.cluster_alert_id(rule.name, k): (k, a) for k, a in found.items()}
            for alert in list(self.alerts.values()):  # no longer reported: resolved
                if alert.rule == rule.name and alert.alert_id not in subjects:
                    subjects[alert.alert_id] = ("", cond.INACTIVE)
            for alert_id, (key, active) in sorted(subjects.items()):
                node = key if rule.when == "cluster_node_down" else None
                subject = Subject(alert_id, None, None, None, None, node=node)
                out += self._machine.update(rule, subject, active, view.now)
        return out


def _collapsed(history: Sequence[str]) -> tuple[str, ...]:
    """The flap history with its leading run of one state cut to one entry. A history still
    filling up counts as padded with its first state (agent/engine/flapping.py), so two
    histories that differ only in that run's length are the same to every condition."""
    if not history:
        return ()
    first = history[0]
    if history.count(first) == len(history):  # the steady case: one state throughout
        return (first,)
    run = len(list(takewhile(partial(eq, first), history)))  # C loops: once per result
    return tuple(history[run - 1 :])
