"""Public messages for the status page: checked, stored and audited."""

from __future__ import annotations

import unicodedata

from agent.access.tokens import Principal
from agent.agent_view import AgentView
from agent.operations import audit
from agent.operations.errors import Invalid, NotFound
from agent.operations.models import PublicMessageIn, PublicMessageOut
from agent.operations.reading import blocking, sql_store
from agent.status import messages
from agent.status.messages import TEXT_LIMIT, PublicMessage
from agent.store.errors import UnknownIncidentError

_KEPT_CONTROLS = {"\n", "\t"}


async def write_public_message(
    agent: AgentView, who: Principal, body: PublicMessageIn
) -> PublicMessageOut:
    """Checked, stored and audited; Invalid or NotFound on bad input."""
    text = checked_text(body.text)
    store, at = sql_store(agent), agent.clock.now()
    if (body.incident is None) == (body.service is None):
        raise Invalid("give exactly one of incident and service")
    if body.service is not None:
        _public_service(agent, body.service)
    else:
        assert body.incident is not None
        incident = await blocking(store.incident, body.incident)
        if incident is None:
            raise NotFound(f"incident {body.incident} does not exist")
        _public_service(agent, incident.service)
    try:
        written = await blocking(
            messages.write, store, incident=body.incident, service=body.service,
            text=text, author=who.name, at=at,
        )  # fmt: skip
    except UnknownIncidentError:
        raise NotFound(f"incident {body.incident} does not exist") from None
    target = f"incident/{body.incident}" if body.incident is not None else f"service/{body.service}"
    await blocking(audit.record, store, who, "public_message.write", target, {"text": text}, at)
    return message_out(written)


def checked_text(text: str) -> str:
    """The text without edge blanks; Invalid if empty, too long or holding control characters
    (the Atom feed is XML, which cannot carry most of them)."""
    stripped = text.strip()
    if not stripped:
        raise Invalid("text is empty")
    if len(stripped) > TEXT_LIMIT:
        raise Invalid(f"text has {len(stripped)} characters (at most {TEXT_LIMIT})")
    for char in stripped:
        if char not in _KEPT_CONTROLS and unicodedata.category(char) in ("Cc", "Cs"):
            raise Invalid(f"text holds the control character U+{ord(char):04X}")
    return stripped


def _public_service(agent: AgentView, service_id: str) -> None:
    service = agent.catalog.by_id.get(service_id)
    if service is None:
        raise Invalid(f"service {service_id!r} is not in the catalogue")
    if not service.public:
        raise Invalid(
            f"service {service_id!r} is not on the status page (public: true in the catalogue)"
        )


def message_out(message: PublicMessage) -> PublicMessageOut:
    return PublicMessageOut(
        id=message.id, incident=message.incident, service=message.service, text=message.text,
        author=message.author, written_at=message.written_at,
    )  # fmt: skip
