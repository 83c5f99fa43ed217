"""The built-in conditions a rule can name in `when`, each a plain function of plain views.

Service conditions see a `ServiceView`; check conditions see a `CheckView` (one probe result);
agent conditions see an `AgentView`. Each returns whether the alert is active and the values
its templates may show.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent.catalog.model import Check, Service
from agent.records import Incident, ServiceStatus, State
from alerting.rules import (
    AgentRule,
    BurnRateRule,
    ChangedRule,
    CheckOutcomeRule,
    IncidentOpenForRule,
    LocationCheckFailingRule,
    MeasurementRule,
    RuleBase,
    ServiceStateRule,
)
from checks.result import ProbeResult

SERVICE = {"service_state", "flapping", "root_cause", "incident_open_for", "burn_rate"}
CHECK = {"check_outcome", "measurement", "changed", "location_check_failing"}
AGENT = {"agent", "watchdog"}
# the cluster's own health (semantics.md §9): judged by one node, the holder of partition 0
CLUSTER = {"cluster_node_down", "partition_unowned"}
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
UNHEALTHY_PREFIX = "unhealthy:"  # signals "unhealthy:<reason>", 1.0 while that reason holds
LOCATION_DOWN_PREFIX = "location_down:"  # "location_down:<name>", 1.0 while it is silent
# "location_skewed:<name>", 1.0 while its newest batch was refused for its clock offset
LOCATION_SKEWED_PREFIX = "location_skewed:"
# "location_blind:<name>", 1.0 while its worker reports its connectivity check failing
LOCATION_BLIND_PREFIX = "location_blind:"
# Cluster signals (agent/cluster/health.py), present only on the node that judges the cluster
# rules: "cluster_judge" 1.0, "cluster_node_down:<node>" 1.0 per node whose heartbeat is older
# than the lease, "partitions_unowned" a count with "partition_unowned:<n>" 1.0 each.
CLUSTER_JUDGE = "cluster_judge"
CLUSTER_NODE_DOWN_PREFIX = "cluster_node_down:"
PARTITION_UNOWNED_PREFIX = "partition_unowned:"
CLUSTER_LEASE = "cluster_lease_seconds"
# A cluster alert's id: "<rule>@<subject>" (a node's name, or "partitions"). Rule names cannot
# hold "@" and service alerts are "<rule>/<service>...", so the mark tells them apart.
CLUSTER_MARK = "@"
# which per-location signals name the locations of a count signal
_LOCATIONS_OF = {
    "locations_skewed": LOCATION_SKEWED_PREFIX,
    "locations_blind": LOCATION_BLIND_PREFIX,
}


@dataclass(frozen=True)
class Active:
    active: bool
    values: dict[str, Any] = field(default_factory=dict)


INACTIVE = Active(False)


@dataclass
class ServiceView:
    service: Service
    status: ServiceStatus
    incident: Incident | None
    now: datetime
    root_of: list[str]  # services whose open incident names this one as root cause
    down_intervals: list[tuple[datetime, datetime | None]]  # recent incidents, for burn rates


@dataclass
class CheckView:
    check: Check
    result: ProbeResult
    previous: Mapping[str, Any]  # measurements of the previous result of this check
    failing_locations: tuple[str, ...] = ()  # hard DOWN below the quorum (semantics.md §8)


@dataclass
class AgentView:
    now: datetime
    signals: Mapping[str, float]


# ---- service conditions ---------------------------------------------------------------------


def service_state(rule: ServiceStateRule, view: ServiceView) -> Active:
    wanted = State(rule.params.state)
    if view.status.state is not wanted:
        return INACTIVE
    return Active(True, {"state": wanted.value, "since": view.status.since})


def flapping(rule: RuleBase, view: ServiceView) -> Active:
    return Active(view.status.flapping, {"history": "".join(view.status.flap_history[-10:])})


def root_cause(rule: RuleBase, view: ServiceView) -> Active:
    """The parent alert: this service is the root cause of other services' incidents."""
    if not view.root_of:
        return INACTIVE
    return Active(True, {"children": ", ".join(sorted(view.root_of)), "count": len(view.root_of)})


def incident_open_for(rule: IncidentOpenForRule, view: ServiceView) -> Active:
    """Escalation: an incident still open after `longer_than` (the Ind.4 meta: 35 min)."""
    incident = view.incident
    if incident is None:
        return INACTIVE
    limit = rule.params.longer_than
    elapsed = (view.now - incident.started_at).total_seconds()
    values = {"minutes": round(elapsed / 60, 1), "limit_minutes": limit / 60, "id": incident.id}
    return Active(elapsed > limit, values)


def burn_rate(rule: BurnRateRule, view: ServiceView) -> Active:
    """Multi-window error-budget burn (SRE workbook): both windows above `factor`."""
    budget = 1.0 - rule.params.objective
    factor = rule.params.factor
    rates = [_down_ratio(view, window) / budget for window in (rule.params.long, rule.params.short)]
    values = {"long_burn": round(rates[0], 2), "short_burn": round(rates[1], 2), "factor": factor}
    return Active(all(rate >= factor for rate in rates), values)


def _down_ratio(view: ServiceView, window: float) -> float:
    start = view.now - timedelta(seconds=window)
    down = 0.0
    for begin, end in view.down_intervals:
        lo, hi = max(begin, start), min(end or view.now, view.now)
        if hi > lo:
            down += (hi - lo).total_seconds()
    return down / window


# ---- check conditions -----------------------------------------------------------------------


def check_outcome(rule: CheckOutcomeRule, view: CheckView) -> Active:
    pattern = rule.params.reason_matches
    result = view.result
    if result.outcome not in rule.params.outcome:
        return INACTIVE
    if pattern and not pattern.search(result.reason):
        return INACTIVE
    return Active(True, {"reason": result.reason, "outcome": result.outcome.value})


def measurement(rule: MeasurementRule, view: CheckView) -> Active:
    name, threshold = rule.params.field, rule.params.value
    value = view.result.measurements.get(name)
    if value is None:
        return INACTIVE
    compare = OPERATORS[rule.params.op]
    try:
        hit = compare(value, threshold)
    except TypeError:
        return INACTIVE
    values = {"field": name, "value": value, "threshold": threshold}
    return Active(bool(hit), values | {"measurements": dict(view.result.measurements)})


def changed(rule: ChangedRule, view: CheckView) -> Active:
    """A watched value differs from the previous result's (the first result sets the baseline)."""
    name = rule.params.field
    now, before = view.result.measurements.get(name), view.previous.get(name)
    if now is None or before is None or _same(now, before):
        return INACTIVE
    return Active(True, {"field": name, "before": _text(before), "after": _text(now)})


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return bool(a == b)


def _text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


# ---- agent conditions -----------------------------------------------------------------------


def watchdog(rule: RuleBase, view: AgentView) -> Active:
    """Active while the agent runs and is healthy: the receiving side alerts when it stops
    arriving, so a stuck agent (not probing, not recording) is noticed like a dead one."""
    return Active(view.signals.get("agent_unhealthy", 0.0) == 0)


def agent(rule: AgentRule, view: AgentView) -> Active:
    name, above = rule.params.signal, rule.params.above
    value = view.signals.get(name, 0.0)
    reasons = [
        k.removeprefix(UNHEALTHY_PREFIX)
        for k, v in sorted(view.signals.items())
        if k.startswith(UNHEALTHY_PREFIX) and v
    ]
    prefix = _LOCATIONS_OF.get(name, LOCATION_DOWN_PREFIX)
    signals = sorted(view.signals.items())
    locations = [k.removeprefix(prefix) for k, v in signals if k.startswith(prefix) and v]
    values = {"signal": name, "value": value, "above": above, "reasons": ", ".join(reasons)}
    values["locations"] = ", ".join(locations)
    return Active(value > above, values)


# ---- cluster conditions: {subject: Active}, one alert per subject -------------------------


def cluster_alert_id(rule: str, subject: str) -> str:
    return f"{rule}{CLUSTER_MARK}{subject}"


def is_cluster_alert(alert_id: str) -> bool:
    return CLUSTER_MARK in alert_id.split("/", 1)[0]


def cluster_node_down(rule: RuleBase, view: AgentView) -> dict[str, Active]:
    """One alert per node whose heartbeat is older than the lease time (database time). The
    node's name is this alert's subject, so it is a label here: no other alert names a node."""
    lease = view.signals.get(CLUSTER_LEASE, 0.0)
    return {
        key.removeprefix(CLUSTER_NODE_DOWN_PREFIX): Active(
            True, {"node": key.removeprefix(CLUSTER_NODE_DOWN_PREFIX), "lease_seconds": lease}
        )
        for key, value in sorted(view.signals.items())
        if key.startswith(CLUSTER_NODE_DOWN_PREFIX) and value
    }


def partition_unowned(rule: RuleBase, view: AgentView) -> dict[str, Active]:
    """One alert for the cluster: partitions without a live lease for over 2 lease times,
    whose services nobody probes or judges."""
    signals = view.signals
    found = sorted(
        int(k.removeprefix(PARTITION_UNOWNED_PREFIX))
        for k, v in signals.items()
        if k.startswith(PARTITION_UNOWNED_PREFIX) and v
    )
    values = {
        "partitions": ", ".join(str(p) for p in found),
        "count": len(found),
        "lease_seconds": signals.get(CLUSTER_LEASE, 0.0),
    }
    return {"partitions": Active(bool(found), values)}


# Keyed by `when`: the rule a function is handed is the type of its condition (rules.py),
# which is why the tables take any rule (a test checks each name has one function).
SERVICE_CONDITIONS: dict[str, Callable[[Any, ServiceView], Active]] = {
    "service_state": service_state,
    "flapping": flapping,
    "root_cause": root_cause,
    "incident_open_for": incident_open_for,
    "burn_rate": burn_rate,
}


def location_check_failing(rule: LocationCheckFailingRule, view: CheckView) -> Active:
    """A check hard DOWN at some locations but fewer than its quorum: a location problem
    (their network, their DNS), not an outage of the service (semantics.md §8)."""
    if not view.failing_locations:
        return INACTIVE
    names = ", ".join(view.failing_locations)
    return Active(True, {"locations": names, "count": len(view.failing_locations)})


CHECK_CONDITIONS: dict[str, Callable[[Any, CheckView], Active]] = {
    "check_outcome": check_outcome,
    "measurement": measurement,
    "changed": changed,
    "location_check_failing": location_check_failing,
}
AGENT_CONDITIONS: dict[str, Callable[[Any, AgentView], Active]] = {
    "watchdog": watchdog,
    "agent": agent,
}
CLUSTER_CONDITIONS: dict[str, Callable[[Any, AgentView], dict[str, Active]]] = {
    "cluster_node_down": cluster_node_down,
    "partition_unowned": partition_unowned,
}
