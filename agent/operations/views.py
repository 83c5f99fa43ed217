"""Records -> API models. Shared by the API routes and the console pages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from agent.catalog.model import Check, Service
from agent.maintenance import MaintenanceCalendar
from agent.operations.models import (
    AckOut,
    AlertOut,
    CheckOut,
    DeliveryOut,
    FragmentOut,
    IncidentBrief,
    IncidentOut,
    LastResult,
    LocationStateOut,
    ServiceOut,
    WindowOut,
)
from agent.operations.reading import Live
from agent.records import CheckStatus, Incident, MaintenanceWindow
from agent.staleness import is_stale
from agent.store.base import StoredResult
from agent.store.sql import SqlStore
from alerting import alert_store
from alerting.state import AlertState


def service_out(
    service: Service, live: Live, now: datetime, calendar: MaintenanceCalendar | None
) -> ServiceOut:
    status = live.service(service.id)
    incident = live.open_incident(service.id)
    return ServiceOut(
        id=service.id,
        name=service.name,
        macro_service=service.macro_service,
        tier=service.tier,
        pcn=service.pcn,
        owner=service.owner,
        monitored=service.monitored,
        state=status.state.value if service.monitored else "unmonitored",
        since=status.since,
        last_seen_at=status.last_seen_at,
        stale=is_stale(service, status.last_seen_at, now),
        flapping=status.flapping,
        in_maintenance=bool(calendar and calendar.in_planned(service.id, now)),
        open_incident=brief(incident, now) if incident else None,
    )


def brief(incident: Incident, now: datetime) -> IncidentBrief:
    return IncidentBrief(
        id=incident.id,
        started_at=incident.started_at,
        elapsed_seconds=max(0.0, (now - incident.started_at).total_seconds()),
        root_cause=incident.root_cause,
    )


def check_out(
    check: Check,
    status: CheckStatus | None,
    last: StoredResult | None,
    per_location: Mapping[str, CheckStatus] | None = None,
) -> CheckOut:
    located = [
        LocationStateOut(
            location=name,
            hard_state=(s.hard_state.value if s else "unknown"),
            since=s.since if s else None,
            last_result_at=s.last_result_at if s else None,
        )
        for name in check.locations
        for s in [(per_location or {}).get(name)]
    ]
    return CheckOut(
        quorum=check.quorum,
        locations=located,
        id=check.id,
        service=check.service,
        name=check.name,
        kind=check.kind,
        impact=check.impact.value,
        interval=check.interval,
        timeout=check.timeout,
        hard_state=status.hard_state.value if status else "unknown",
        since=status.since if status else None,
        last_outcome=status.last_outcome if status else None,
        last_result_at=status.last_result_at if status else None,
        last_reason=status.last_reason if status else "",
        last_result=last_result(last) if last else None,
    )


def last_result(stored: StoredResult) -> LastResult:
    r = stored.result
    return LastResult(
        started_at=r.started_at,
        duration=r.duration,
        outcome=str(r.outcome),
        reason=r.reason,
        measurements=dict(r.measurements),
        in_maintenance=stored.in_maintenance,
    )


def latest_results(store: SqlStore, checks: Iterable[Check], live: Live) -> dict[str, StoredResult]:
    """The newest stored result of each check (blocking: one indexed query per check)."""
    found: dict[str, StoredResult] = {}
    for check in checks:
        status = live.check(check.id)
        at = status.last_result_at if status else None
        if at is None:
            continue
        rows = store.results(check=check.id, start=at, limit=1)
        if rows:
            found[check.id] = rows[0]
    return found


def incident_out(incident: Incident) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        service=incident.service,
        tier=incident.tier,
        pcn=incident.pcn,
        started_at=incident.started_at,
        confirmed_at=incident.confirmed_at,
        ended_at=incident.ended_at,
        restore_seconds=incident.restore_seconds,
        maintenance_seconds=incident.maintenance_seconds,
        cause=incident.cause,
        root_cause=incident.root_cause,
        inhibited=incident.inhibited,
        fragments=[
            FragmentOut(started_at=f.started_at, confirmed_at=f.confirmed_at, ended_at=f.ended_at)
            for f in incident.fragments
        ],
    )


def window_out(window: MaintenanceWindow) -> WindowOut:
    return WindowOut(
        id=window.id,
        service=window.service,
        start=window.start,
        end=window.end,
        reason=window.reason,
        author=window.author,
        created_at=window.created_at,
        cancelled_at=window.cancelled_at,
        retroactive=window.retroactive,
    )


# ---- alerts -------------------------------------------------------------------------------


def alerts(
    store: SqlStore,
    service: str | None = None,
    *,
    deliveries: bool = True,
    reader: alert_store.AlertReader | None = None,
) -> list[AlertOut]:
    """Active alerts with their acknowledgements and delivery history (blocking)."""
    loaded = reader.load(store) if reader else alert_store.load_alerts(store)
    active = [a for a in loaded if service in (None, a.service)]
    acks = alert_store.acks_by_alert(store, [a.alert_id for a in active])
    out = [
        alert_out(a, acks.get(a.alert_id, []), _deliveries(store, a) if deliveries else [])
        for a in active
    ]
    out.sort(key=lambda a: (a.state != "firing", a.active_since, a.alert_id))
    return out


def alert_out(
    alert: AlertState, acks: list[alert_store.Ack], deliveries: list[DeliveryOut]
) -> AlertOut:
    # alert ids are reused by later firings of the same rule: only acks since this one count
    applied = alert.acked_by is not None
    ack_list = [
        AckOut(author=k.author, comment=k.comment, created_at=k.created_at, applied=applied)
        for k in acks
        if k.created_at >= alert.active_since
    ]
    return AlertOut(
        alert_id=alert.alert_id,
        rule=alert.rule,
        team=alert.team,
        service=alert.service,
        check=alert.check,
        state=alert.state,
        severity=alert.labels.get("severity", ""),
        summary=alert.annotations.get("summary", ""),
        active_since=alert.active_since,
        firing_since=alert.firing_since,
        incident_id=alert.incident_id,
        acknowledged=applied or bool(ack_list),
        acks=ack_list,
        deliveries=deliveries,
    )


def _deliveries(store: SqlStore, alert: AlertState) -> list[DeliveryOut]:
    try:
        from alerting.outbox import Outbox
    except ImportError:  # alert delivery is not part of this build
        return []
    history: list[Any] = Outbox(store).history(alert.alert_id)
    return [
        DeliveryOut(
            receiver=item.receiver,
            status=str(item.notification.status),
            state=str(item.state),
            attempts=item.attempts,
            last_error=item.last_error,
            created_at=item.created_at,
            delivered_at=item.delivered_at,
        )
        for item in history
        if item.created_at >= alert.active_since
    ]
