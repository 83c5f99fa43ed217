"""Rule evaluation: engine events and probe results in, alert notifications out.

Plain code with an injected clock: `observe()` after each probe result, `tick()` periodically
(time conditions, `for` durations, change holds, agent conditions). Each alert instance moves
inactive -> pending -> firing -> resolved. A firing alert is *suppressed* (recorded, not
notified) while its service is in planned maintenance, while a parent is the root cause of its
outage (inhibition), or, for outage alerts, while the service flaps (one flapping alert instead
of a storm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from agent.catalog.model import Catalog, Check, Service
from agent.engine.dependencies import ancestors
from agent.engine.flapping import HISTORY as FLAP_HISTORY
from agent.maintenance import MaintenanceCalendar
from agent.records import Effect, Incident, IncidentSaved, ServiceStatus
from alerting import conditions as cond
from alerting.notification import AlertStatus, Notification
from alerting.rules import Rule, render
from alerting.template_sandbox import check_view, service_view
from checks.clock import Clock
from checks.result import ProbeResult

DOWN_HISTORY = timedelta(days=3)  # the longest burn-rate window
StatusOf = Callable[[str], ServiceStatus]
IncidentOf = Callable[[str], Incident | None]
Signals = Callable[[], Mapping[str, float]]


@dataclass
class AlertState:
    alert_id: str
    rule: str
    team: str
    service: str | None
    check: str | None
    active_since: datetime
    firing_since: datetime | None = None
    notified: bool = False
    suppressed: str | None = None  # maintenance | inhibited | flapping
    hold_until: datetime | None = None
    values: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_comment: str = ""
    last_notified_at: datetime | None = None
    incident_id: int | None = None  # the outage behind a service alert, for its duration
    sequence: int = 0  # notifications made for this alert so far (their idempotency keys)

    @property
    def state(self) -> str:
        if self.firing_since is None:
            return "pending"
        return f"suppressed:{self.suppressed}" if self.suppressed else "firing"


class AlertEvaluator:
    def __init__(
        self,
        rules: Sequence[Rule],
        catalog: Catalog,
        calendar: MaintenanceCalendar,
        clock: Clock,
        status_of: StatusOf,
        incident_of: IncidentOf,
        signals: Signals = dict,
        console_url: str = "",
        failing_locations_of: Callable[[str], tuple[str, ...]] = lambda _check: (),
    ) -> None:
        self._rules = list(rules)
        self._catalog = catalog
        self._service_rules: dict[str, list[Rule]] = {}  # service -> its service rules
        self._check_rules: dict[str, list[Rule]] = {}  # check -> its check rules
        self._service_keys: dict[str, tuple[str, ...]] = {}  # service -> its alert ids
        self._seen: dict[str, tuple[ServiceStatus, Incident | None]] = {}  # last evaluated
        self.calendar = calendar
        self.clock = clock
        self.status_of = status_of
        self.incident_of = incident_of
        self.signals = signals
        self.failing_locations_of = failing_locations_of
        self.console_url = console_url.rstrip("/")
        self.alerts: dict[str, AlertState] = {}
        self._previous: dict[str, dict[str, Any]] = {}  # check -> last measurements
        self._root_of: dict[str, dict[str, int]] = {}  # parent -> {child: incident id}
        self._down: dict[str, dict[int, tuple[datetime, datetime | None]]] = {}

    # ---- rules and catalogue (which rules apply to what is worked out once per change) ------

    @property
    def rules(self) -> list[Rule]:
        return self._rules

    @rules.setter
    def rules(self, rules: Sequence[Rule]) -> None:
        self._rules = list(rules)
        self._forget_matches()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._forget_matches()

    def _forget_matches(self) -> None:
        self._service_rules, self._check_rules, self._seen = {}, {}, {}
        self._service_keys = {}

    def _alert_ids_of_service(self, service: Service) -> tuple[str, ...]:
        keys = self._service_keys.get(service.id)
        if keys is None:
            rules = self._rules_of_service(service)
            keys = self._service_keys[service.id] = tuple(f"{r.name}/{service.id}" for r in rules)
        return keys

    def _rules_of_service(self, service: Service) -> list[Rule]:
        rules = self._service_rules.get(service.id)
        if rules is None:
            rules = self._service_rules[service.id] = [
                r
                for r in self._rules
                if r.when in cond.SERVICE and cond.service_matches(r, service)
            ]
        return rules

    def _rules_of_check(self, check: Check, service: Service) -> list[Rule]:
        rules = self._check_rules.get(check.id)
        if rules is None:
            rules = self._check_rules[check.id] = [
                r
                for r in self._rules
                if r.when in cond.CHECK
                and cond.service_matches(r, service)
                and cond.check_matches(r, check, self._catalog)
            ]
        return rules

    # ---- inputs -----------------------------------------------------------------------------

    def observe(self, result: ProbeResult, effects: Iterable[Effect] = ()) -> list[Notification]:
        """After the engine saw `result` (and produced `effects`): re-evaluate its subjects."""
        now = self.clock.now()
        touched: set[str] = set()
        for effect in effects:
            if isinstance(effect, IncidentSaved):
                touched |= self._track_incident(effect.incident)
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
        status, incident = self.status_of(sid), self.incident_of(sid)
        history = status.flap_history  # still filling up: the same as padded (flapping.py)
        padded = (*history[:1] * (FLAP_HISTORY - len(history)), *history)
        key = (replace(status, last_seen_at=None, flap_history=padded), incident)
        if self._seen.get(sid) != key:
            self._seen[sid] = key
            return False
        if incident is not None:
            return False
        return not any(key in self.alerts for key in self._alert_ids_of_service(service))

    def tick(self) -> list[Notification]:
        """Time-driven work: escalations, burn rates, `for` durations, holds, the agent."""
        now = self.clock.now()
        services = {a.service for a in self.alerts.values() if a.service}
        services |= set(self._down) | set(self._root_of)
        out: list[Notification] = []
        for sid in services:
            out += self._evaluate_service(sid, now)
        out += self._expire_holds(now)
        out += self._evaluate_agent(now)
        return out

    def acknowledge(self, alert_id: str, author: str, comment: str, at: datetime) -> bool:
        """Stops reminders for this alert; it is still recorded and still resolves."""
        alert = self.alerts.get(alert_id)
        if alert is None:
            return False
        alert.acked_by, alert.acked_at, alert.ack_comment = author, at, comment
        return True

    def reload(self, rules: Sequence[Rule], catalog: Catalog) -> None:
        self.rules, self.catalog = list(rules), catalog
        names = {r.name for r in rules}
        for alert_id in [a for a, s in self.alerts.items() if s.rule not in names]:
            del self.alerts[alert_id]  # a removed rule forgets its alerts (no resolve storm)

    # ---- subjects ---------------------------------------------------------------------------

    def _evaluate_service(self, sid: str, now: datetime) -> list[Notification]:
        service = self.catalog.by_id.get(sid)
        if service is None or not self._rules_of_service(service):
            return []
        view = cond.ServiceView(
            service=service,
            status=self.status_of(sid),
            incident=self.incident_of(sid),
            now=now,
            root_of=sorted(self._root_of.get(sid, {})),
            down_intervals=list(self._down.get(sid, {}).values()),
        )
        out: list[Notification] = []
        for rule in self._rules_of_service(service):
            active = cond.SERVICE_CONDITIONS[rule.when](rule, view)
            subject = Subject(f"{rule.name}/{sid}", service, None, view.status, view.incident)
            out += self._update(rule, subject, active, now)
        return out

    def _evaluate_check(
        self, check: Check, result: ProbeResult, now: datetime
    ) -> list[Notification]:
        service = self.catalog.by_id[check.service]
        view = cond.CheckView(
            check, result, self._previous.get(check.id, {}), self.failing_locations_of(check.id)
        )
        out: list[Notification] = []
        for rule in self._rules_of_check(check, service):
            active = cond.CHECK_CONDITIONS[rule.when](rule, view)
            subject = Subject(
                f"{rule.name}/{check.id}",
                service,
                check,
                self.status_of(service.id),
                self.incident_of(service.id),
            )
            out += self._update(rule, subject, active, now)
        return out

    def _evaluate_agent(self, now: datetime) -> list[Notification]:
        view = cond.AgentView(now, self.signals())
        out: list[Notification] = []
        for rule in self.rules:
            if rule.when in cond.AGENT:
                active = cond.AGENT_CONDITIONS[rule.when](rule, view)
                out += self._update(rule, Subject(rule.name, None, None, None, None), active, now)
        out += self._evaluate_cluster(view, now)
        return out

    def _evaluate_cluster(self, view: cond.AgentView, now: datetime) -> list[Notification]:
        """The cluster rules, on the one node that judges them (the holder of partition 0:
        the others have no `cluster_judge` signal and leave these alerts to it)."""
        if not view.signals.get(cond.CLUSTER_JUDGE):
            return []
        out: list[Notification] = []
        for rule in self.rules:
            if rule.when not in cond.CLUSTER:
                continue
            found = cond.CLUSTER_CONDITIONS[rule.when](rule, view)
            subjects = {cond.cluster_alert_id(rule.name, k): (k, a) for k, a in found.items()}
            for alert in list(self.alerts.values()):  # no longer reported: resolved
                if alert.rule == rule.name and alert.alert_id not in subjects:
                    subjects[alert.alert_id] = ("", cond.INACTIVE)
            for alert_id, (key, active) in sorted(subjects.items()):
                node = key if rule.when == "cluster_node_down" else None
                subject = Subject(alert_id, None, None, None, None, node=node)
                out += self._update(rule, subject, active, now)
        return out

    def _track_incident(self, incident: Incident) -> set[str]:
        """Remember recent down intervals (burn rates) and root-cause links (parent alerts)."""
        self._down.setdefault(incident.service, {})[incident.id] = (
            incident.started_at,
            incident.ended_at,
        )
        touched = {incident.service}
        for parent, children in self._root_of.items():
            if children.get(incident.service) == incident.id and (
                incident.root_cause != parent or not incident.is_open
            ):
                del children[incident.service]
                touched.add(parent)
        if incident.root_cause and incident.is_open:
            self._root_of.setdefault(incident.root_cause, {})[incident.service] = incident.id
            touched.add(incident.root_cause)
        self._forget_old_down(incident.service)
        return touched

    def _forget_old_down(self, sid: str) -> None:
        horizon = self.clock.now() - DOWN_HISTORY
        intervals = self._down.get(sid, {})
        for key in [k for k, (_, end) in intervals.items() if end is not None and end < horizon]:
            del intervals[key]

    # ---- the alert state machine ------------------------------------------------------------

    def _update(
        self, rule: Rule, subject: Subject, active: cond.Active, now: datetime
    ) -> list[Notification]:
        alert = self.alerts.get(subject.alert_id)
        if active.active and rule.when == "changed":
            hold = now + timedelta(seconds=rule.hold)
            alert = alert or self._new(rule, subject, now)
            alert.hold_until = hold
        if not active.active:
            if alert is None or (alert.hold_until is not None and alert.hold_until > now):
                return []
            return self._resolve(alert, now)
        alert = alert or self._new(rule, subject, now)
        alert.values = active.values
        if subject.incident is not None:
            alert.incident_id = subject.incident.id
        alert.suppressed = self._suppression(rule, subject, now, alert.active_since)
        self._label(alert, rule, subject)
        if alert.firing_since is None and (now - alert.active_since).total_seconds() >= rule.for_:
            alert.firing_since = now
        return self._notify_if_due(alert, now)

    def _new(self, rule: Rule, subject: Subject, now: datetime) -> AlertState:
        alert = AlertState(
            alert_id=subject.alert_id,
            rule=rule.name,
            team=rule.team,
            service=subject.service.id if subject.service else None,
            check=subject.check.id if subject.check else None,
            active_since=now,
        )
        self.alerts[alert.alert_id] = alert
        return alert

    def _notify_if_due(self, alert: AlertState, now: datetime) -> list[Notification]:
        if alert.firing_since is None or alert.suppressed or alert.notified:
            return []
        alert.notified, alert.last_notified_at = True, now
        return [self._next(alert, AlertStatus.FIRING, None)]

    def _resolve(self, alert: AlertState, now: datetime) -> list[Notification]:
        del self.alerts[alert.alert_id]
        if not alert.notified:
            return []  # never told anyone it fired: nothing to resolve
        return [self._next(alert, AlertStatus.RESOLVED, now)]

    def _expire_holds(self, now: datetime) -> list[Notification]:
        out: list[Notification] = []
        for alert in list(self.alerts.values()):
            if alert.hold_until is not None and alert.hold_until <= now:
                out += self._resolve(alert, now)
        return out

    def _suppression(
        self, rule: Rule, subject: Subject, now: datetime, since: datetime
    ) -> str | None:
        if subject.service is None:
            return None
        if self.calendar.in_planned(subject.service.id, now):
            return "maintenance"
        if rule.when != "service_state":
            return None
        incident = subject.incident
        if incident is not None and incident.inhibited:
            return "inhibited"
        if subject.status and subject.status.flapping:
            return "flapping"
        if (now - since).total_seconds() < self._parent_grace(subject.service):
            return "awaiting-parents"
        return None

    def _parent_grace(self, service: Service) -> float:
        """How long a child's outage alert waits for its parents to be confirmed DOWN.

        A child probed earlier in the interval sees a shared outage first; its parent needs up
        to `interval x confirm_down` more to be confirmed and take the alert (inhibition), as
        Alertmanager's group_wait gives inhibiting alerts time to arrive. No parents, no wait.
        """
        grace = 0.0
        for parent in ancestors(self.catalog.by_id, service.id):
            checks = self.catalog.by_id[parent].checks
            grace = max([grace, *(c.interval * c.timing.confirm_down for c in checks)])
        return grace

    # ---- rendering --------------------------------------------------------------------------

    def _label(self, alert: AlertState, rule: Rule, subject: Subject) -> None:
        context = self._context(alert, subject)
        labels = {"alertname": rule.name, "team": rule.team}
        if subject.service is not None:
            svc = subject.service
            labels |= {
                "service": svc.id,
                "tier": svc.tier,
                "macro_service": svc.macro_service,
                "pcn": str(svc.pcn).lower(),
            }
        if subject.check is not None:
            labels |= {"check": subject.check.id, "kind": subject.check.kind}
        if subject.node is not None:
            labels["node"] = subject.node
        labels["severity"] = self._severity(rule, subject.service)
        labels |= {k: render(v, context) for k, v in rule.labels.items()}
        alert.labels = labels
        alert.annotations = {k: render(v, context) for k, v in rule.annotations.items()}
        alert.annotations["console_url"] = self._link(subject)

    def _severity(self, rule: Rule, service: Service | None) -> str:
        if rule.severity != "tier":
            return rule.severity
        tier = self.catalog.tiers.get(service.tier) if service else None
        return tier.severity if tier else "warning"

    def _context(self, alert: AlertState, subject: Subject) -> dict[str, Any]:
        return {
            "service": service_view(subject.service),  # plain views: never a spec or a secret
            "check": check_view(subject.check),
            "status": subject.status,
            "incident": subject.incident,
            "values": alert.values,
        }

    def _link(self, subject: Subject) -> str:
        if not self.console_url or subject.service is None:
            return self.console_url
        if subject.incident is not None:
            return f"{self.console_url}/incidents/{subject.incident.id}"
        return f"{self.console_url}/services/{subject.service.id}"

    def _next(self, alert: AlertState, status: AlertStatus, ended: datetime | None) -> Notification:
        """A new notification of `alert` (not a resend of the last one): the next sequence."""
        alert.sequence += 1
        return self._notification(alert, status, ended)

    def _notification(
        self, alert: AlertState, status: AlertStatus, ended: datetime | None
    ) -> Notification:
        duration = self._outage_seconds(alert, ended)
        return Notification(
            alert_id=alert.alert_id,
            status=status,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=alert.active_since,
            ends_at=ended,
            generator_url=alert.annotations.get("console_url", ""),
            duration_seconds=duration,
            sequence=alert.sequence,
        )

    def _outage_seconds(self, alert: AlertState, ended: datetime | None) -> float | None:
        """Resolved notifications carry the outage duration: the incident's, when there is one."""
        if ended is None:
            return None
        known = self._down.get(alert.service or "", {}).get(alert.incident_id or -1)
        if known is not None and known[1] is not None:
            return (known[1] - known[0]).total_seconds()
        return (ended - alert.active_since).total_seconds()

    def reminders_due(self, every: float) -> list[Notification]:
        """Firing, unacknowledged alerts not notified for `every` seconds: notify them again.
        An acknowledgement stops these reminders; the alert is still recorded and resolves."""
        now = self.clock.now()
        due: list[Notification] = []
        for alert in self.alerts.values():
            if not alert.notified or alert.suppressed or alert.acked_by is not None:
                continue
            last = alert.last_notified_at or alert.active_since
            if (now - last).total_seconds() >= every:
                alert.last_notified_at = now
                note = self._next(alert, AlertStatus.FIRING, None)
                due.append(replace(note, extra={"reminder": "true"}))
        return due

    def firing_notifications(self) -> list[Notification]:
        """Every notified, still-firing alert: what the Alertmanager resend protocol repeats."""
        return [
            self._notification(a, AlertStatus.FIRING, None)
            for a in self.alerts.values()
            if a.notified and not a.suppressed
        ]

    def forget(self, services: Iterable[str]) -> None:
        """Another node owns these services now (semantics.md §9): drop their alerts without
        resolving them (the new owner carries them on) and what was learnt of their outages."""
        gone = set(services)
        for alert_id in [a for a, s in self.alerts.items() if s.service in gone]:
            del self.alerts[alert_id]
        for sid in gone:
            self._down.pop(sid, None)
            self._seen.pop(sid, None)
        for parent in list(self._root_of):
            children = {c: i for c, i in self._root_of[parent].items() if c not in gone}
            if parent in gone or not children:
                del self._root_of[parent]
            else:
                self._root_of[parent] = children

    def forget_cluster(self) -> None:
        """Another node judges the cluster rules now (it holds partition 0): drop their alerts
        without resolving them; that node loaded them and carries them on."""
        for alert_id in [a for a in self.alerts if cond.is_cluster_alert(a)]:
            del self.alerts[alert_id]

    def snapshot(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in self.alerts.values()]


@dataclass(frozen=True)
class Subject:
    alert_id: str
    service: Service | None
    check: Check | None
    status: ServiceStatus | None
    incident: Incident | None
    node: str | None = None  # a cluster node, the subject of ClusterNodeDown alone
