"""Public messages for the status page: written by operators (audited), read by viewers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.operations.messages import message_out, write_public_message
from agent.operations.models import PublicMessageIn, PublicMessageOut
from agent.status import messages

router = APIRouter(tags=["status page"])


@router.get("/public-messages", response_model=list[PublicMessageOut])
async def list_messages(
    request: Request,
    _: Viewer,
    incident: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    service: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=messages.LIST_LIMIT)] = 100,
) -> list[PublicMessageOut]:
    """Public messages, newest first."""
    store = sql_store(agent_of(request))
    found = await blocking(messages.listing, store, incident=incident, service=service, limit=limit)
    return [message_out(m) for m in found]


@router.post(
    "/public-messages",
    response_model=PublicMessageOut,
    status_code=201,
    responses={404: {}, 422: {}},
)
async def write_message(request: Request, who: Operator, body: PublicMessageIn) -> PublicMessageOut:
    """Tell the public about an incident or a public service (shown on /status)."""
    return await write_public_message(agent_of(request), who, body)
