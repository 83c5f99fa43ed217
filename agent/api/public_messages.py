"""Public messages for the status page: written by operators (audited), read by viewers."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from agent.access.tokens import Principal
from agent.api import audit
from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.api.models import PublicMessageIn, PublicMessageOut
from agent.status import messages
from agent.status.messages import TEXT_LIMIT, PublicMessage
from agent.store.errors import UnknownIncidentError

if TYPE_CHECKING:
    from agent.agent_view import AgentView

router = APIRouter(tags=["status page"])
_KEPT_CONTROLS = {"\n", "\t"}


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


async def write_public_message(
    agent: AgentView, who: Principal, body: PublicMessageIn
) -> PublicMessageOut:
    """Checked, stored and audited; HTTPException (404, 422) on bad input."""
    text = checked_text(body.text)
    store, at = sql_store(agent), agent.clock.now()
    if (body.incident is None) == (body.service is None):
        raise HTTPException(422, "give exactly one of incident and service")
    if body.service is not None:
        _public_service(agent, body.service)
    else:
        assert body.incident is not None
        incident = await blocking(store.incident, body.incident)
        if incident is None:
            raise HTTPException(404, f"incident {body.incident} does not exist")
        _public_service(agent, incident.service)
    try:
        written = await blocking(
            messages.write, store, incident=body.incident, service=body.service,
            text=text, author=who.name, at=at,
        )  # fmt: skip
    except UnknownIncidentError:
        raise HTTPException(404, f"incident {body.incident} does not exist") from None
    target = f"incident/{body.incident}" if body.incident is not None else f"service/{body.service}"
    await blocking(audit.record, store, who, "public_message.write", target, {"text": text}, at)
    return message_out(written)


def checked_text(text: str) -> str:
    """The text without edge blanks; 422 if empty, too long or holding control characters
    (the Atom feed is XML, which cannot carry most of them)."""
    stripped = text.strip()
    if not stripped:
        raise HTTPException(422, "text is empty")
    if len(stripped) > TEXT_LIMIT:
        raise HTTPException(422, f"text has {len(stripped)} characters (at most {TEXT_LIMIT})")
    for char in stripped:
        if char not in _KEPT_CONTROLS and unicodedata.category(char) in ("Cc", "Cs"):
            raise HTTPException(422, f"text holds the control character U+{ord(char):04X}")
    return stripped


def _public_service(agent: AgentView, service_id: str) -> None:
    service = agent.catalog.by_id.get(service_id)
    if service is None:
        raise HTTPException(422, f"service {service_id!r} is not in the catalogue")
    if not service.public:
        raise HTTPException(
            422, f"service {service_id!r} is not on the status page (public: true in the catalogue)"
        )


def message_out(message: PublicMessage) -> PublicMessageOut:
    return PublicMessageOut(
        id=message.id, incident=message.incident, service=message.service, text=message.text,
        author=message.author, written_at=message.written_at,
    )  # fmt: skip
