"""Active alerts with delivery state; acknowledging one (it stops reminders, not recording)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from agent.access.tokens import Principal
from agent.agent_view import AgentView, live_alerts
from agent.api import audit
from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.api.models import AckAccepted, AckIn, AlertOut
from agent.api.views import alerts
from agent.store.sql import SqlStore
from alerting import alert_store

router = APIRouter(tags=["alerts"])


@router.get("/alerts", response_model=list[AlertOut])
async def list_alerts(request: Request, _: Viewer, service: str | None = None) -> list[AlertOut]:
    """Active alerts (pending, firing, suppressed), firing first, with acks and deliveries."""
    return await blocking(alerts, sql_store(agent_of(request)), service)


@router.post(
    "/alerts/{alert_id:path}/ack",
    response_model=AckAccepted,
    status_code=202,
    responses={404: {}},
)
async def acknowledge(request: Request, who: Operator, alert_id: str, body: AckIn) -> AckAccepted:
    """Acknowledge an active alert; the agent applies it at its next evaluation tick."""
    return await acknowledge_alert(agent_of(request), who, alert_id, body.comment)


async def acknowledge_alert(
    agent: AgentView, who: Principal, alert_id: str, comment: str
) -> AckAccepted:
    store = sql_store(agent)
    if not await _is_active(agent, store, alert_id):
        raise HTTPException(404, f"no active alert {alert_id!r}")
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
