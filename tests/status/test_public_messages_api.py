"""Public messages through the API: operators write them (audited), viewers read them, and
bad input gets a clear 4xx with nothing stored or audited."""

from __future__ import annotations

from typing import Any

import pytest

from agent.status import messages
from tests.api.conftest import Running
from tests.status.conftest import HIDDEN, PORTAL, audit_entries

URL = "/api/v1/public-messages"


async def test_an_operator_writes_an_incident_message_and_it_is_audited(running: Running) -> None:
    incident = await running.outage(PORTAL)
    body = {"incident": incident.id, "text": "  Estamos a repor o serviço.  "}
    response = await running.client.post(URL, json=body, headers=running.auth("operator"))
    assert response.status_code == 201, response.text
    out = response.json()
    assert (out["incident"], out["service"]) == (incident.id, None)
    assert (out["text"], out["author"]) == ("Estamos a repor o serviço.", "operator-token")
    [stored] = messages.listing(running.store, incident=incident.id)
    assert stored.text == "Estamos a repor o serviço." and stored.author == "operator-token"
    [entry] = await audit_entries(running)
    assert (entry["actor"], entry["role"]) == ("operator-token", "operator")
    assert entry["action"] == "public_message.write"
    assert entry["target"] == f"incident/{incident.id}"
    assert entry["detail"] == {"text": "Estamos a repor o serviço."}


async def test_a_service_message_is_listed_newest_first_for_viewers(running: Running) -> None:
    for text in ("primeira", "segunda"):
        body = {"service": "autenticacao-cluster-b", "text": text}
        response = await running.client.post(URL, json=body, headers=running.auth("admin"))
        assert response.status_code == 201
    listed = await running.client.get(
        URL, params={"service": "autenticacao-cluster-b"}, headers=running.auth("viewer")
    )
    assert listed.status_code == 200
    assert [m["text"] for m in listed.json()] == ["segunda", "primeira"]
    assert [e["target"] for e in await audit_entries(running)] == [
        "service/autenticacao-cluster-b"
    ] * 2


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("viewer", 403)])
async def test_viewers_and_strangers_cannot_write(
    running: Running, role: str | None, status: int
) -> None:
    headers = running.auth(role) if role else {}
    body = {"service": "autenticacao-cluster-b", "text": "x"}
    response = await running.client.post(URL, json=body, headers=headers)
    assert response.status_code == status
    assert messages.listing(running.store) == [] and await audit_entries(running) == []


async def test_reading_needs_a_token(running: Running) -> None:
    assert (await running.client.get(URL)).status_code == 401


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"service": "autenticacao-cluster-b", "text": "x" * 1001}, "1000"),
        ({"service": "autenticacao-cluster-b", "text": ""}, "at least 1"),
        ({"service": "autenticacao-cluster-b", "text": "   \n "}, "empty"),
        ({"service": "autenticacao-cluster-b", "text": "bell \x07"}, "U+0007"),
        ({"service": "autenticacao-cluster-b", "incident": 1, "text": "x"}, "exactly one"),
        ({"text": "x"}, "exactly one"),
        ({"service": "pagamentos-sip42", "text": "x"}, "not on the status page"),
        ({"service": "nao-existe", "text": "x"}, "not in the catalogue"),
        ({"incident": 0, "text": "x"}, "greater than or equal to 1"),
    ],
)
async def test_bad_messages_are_refused_with_the_reason(
    running: Running, body: dict[str, Any], said: str
) -> None:
    response = await running.client.post(URL, json=body, headers=running.auth("operator"))
    assert response.status_code == 422, response.text
    assert said in response.text
    assert messages.listing(running.store) == [] and await audit_entries(running) == []


async def test_an_unknown_incident_is_404(running: Running) -> None:
    body = {"incident": 424242, "text": "x"}
    response = await running.client.post(URL, json=body, headers=running.auth("operator"))
    assert response.status_code == 404 and "424242" in response.text
    assert await audit_entries(running) == []


async def test_an_incident_of_a_service_not_public_is_refused(running: Running) -> None:
    incident = await running.outage(HIDDEN)
    body = {"incident": incident.id, "text": "x"}
    response = await running.client.post(URL, json=body, headers=running.auth("operator"))
    assert response.status_code == 422 and "not on the status page" in response.text


async def test_a_message_at_the_limit_is_kept_whole(running: Running) -> None:
    body = {"service": "autenticacao-cluster-b", "text": "é" * messages.TEXT_LIMIT}
    response = await running.client.post(URL, json=body, headers=running.auth("operator"))
    assert response.status_code == 201
    [stored] = messages.listing(running.store)
    assert stored.text == "é" * messages.TEXT_LIMIT
