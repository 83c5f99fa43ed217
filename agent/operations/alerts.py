"""Acknowledging an active alert (it stops reminders, not recording), audited."""

from __future__ import annotations

from agent.access.tokens import Principal
from agent.agent_view import AgentView, live_alerts
from agent.operations import audit
from agent.operations.errors import NotFound
from agent.operations.models import AckAccepted
from agent.operations.reading import blocking, sql_store
from agent.store.sql import SqlStore
from alerting import alert_store


async def acknowledge_alert(
    agent: AgentView, who: Principal, alert_id: str, comment: str
) -> AckAccepted:
    """Ask the alerting to apply an ack at its next tick; NotFound unless the alert is active."""
    store = sql_store(agent)
    if not await _is_active(agent, store, alert_id):
        raise NotFound(f"no active alert {alert_id!r}")
    at = agent.clock.now()
    ack_id = await blocking(alert_store.request_ack, store, alert_id, who.name, comment, at)
    detail = {"comment": comment, "ack_id": ack_id}
    await blocking(audit.record, store, who, "alert.ack", f"alert/{alert_id}", detail, at)
    return AckAccepted(alert_id=alert_id, ack_id=ack_id, author=who.name)


async def _is_active(agent: AgentView, store: SqlStore, alert_id: str) -> bool:
    """Active in the running agent's alerting (which the live board shows, up to a tick before
    the store has it) or in the store."""
    alerts = live_alerts(agent)
    if alerts is not None and alert_id in alerts:
        return True
    active = await blocking(alert_store.load_alerts, store)
    return alert_id in {a.alert_id for a in active}
