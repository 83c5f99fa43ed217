"""Active alerts with delivery state; acknowledging one (it stops reminders, not recording)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.operations.alerts import acknowledge_alert
from agent.operations.models import AckAccepted, AckIn, AlertOut
from agent.operations.views import alerts

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
