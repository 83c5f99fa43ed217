"""Operators write public messages from the console: the API's checks and audit, a CSRF
field, and the message on /status."""

from __future__ import annotations

from agent.status import messages
from tests.api.conftest import Running
from tests.console.test_pages import _csrf, _sign_in
from tests.status.conftest import HIDDEN, PORTAL, audit_entries


async def test_an_operator_publishes_from_the_incident_page(running: Running) -> None:
    incident = await running.outage(PORTAL)
    await _sign_in(running, "operator")
    page = await running.client.get(f"/incidents/{incident.id}")
    assert f'action="/incidents/{incident.id}/public-message"' in page.text
    form = {"csrf": _csrf(page.text), "text": "Serviço lento; estamos a tratar."}
    response = await running.client.post(f"/incidents/{incident.id}/public-message", data=form)
    assert response.status_code == 303
    assert response.headers["location"] == f"/incidents/{incident.id}#public-message"
    [stored] = messages.listing(running.store, incident=incident.id)
    assert (stored.text, stored.author) == ("Serviço lento; estamos a tratar.", "operator-token")
    [entry] = await audit_entries(running)
    assert entry["action"] == "public_message.write" and entry["role"] == "operator"
    assert "Serviço lento; estamos a tratar." in (await running.client.get("/status")).text
    assert "Serviço lento" in (await running.client.get(f"/incidents/{incident.id}")).text


async def test_an_operator_publishes_a_notice_from_a_public_service_page(running: Running) -> None:
    await _sign_in(running, "operator")
    page = await running.client.get("/services/autenticacao-cluster-b")
    form = {"csrf": _csrf(page.text), "text": "Nova versão no domingo."}
    url = "/services/autenticacao-cluster-b/public-message"
    assert (await running.client.post(url, data=form)).status_code == 303
    status = (await running.client.get("/status")).text
    assert "Aviso" in status and "Nova versão no domingo." in status


async def test_no_form_for_a_service_that_is_not_public(running: Running) -> None:
    await running.outage(HIDDEN)
    await _sign_in(running, "operator")
    page = await running.client.get("/services/pagamentos-sip42")
    assert "public-message" not in page.text


async def test_bad_text_and_viewers_are_refused(running: Running) -> None:
    incident = await running.outage(PORTAL)
    await _sign_in(running, "operator")
    page = await running.client.get(f"/incidents/{incident.id}")
    url = f"/incidents/{incident.id}/public-message"
    long = {"csrf": _csrf(page.text), "text": "x" * 1001}
    refused = await running.client.post(url, data=long)
    assert refused.status_code == 422 and "1000" in refused.text
    forged = await running.client.post(url, data={"text": "sem csrf"})
    assert forged.status_code == 403
    await _sign_in(running, "viewer")
    page = await running.client.get(f"/incidents/{incident.id}")
    assert (
        "exige um token de operador" in page.text
        and 'name="text" rows="3" maxlength="1000"' not in page.text
    )
    denied = await running.client.post(url, data={"csrf": _csrf(page.text), "text": "x"})
    assert denied.status_code == 403
    assert messages.listing(running.store) == [] and await audit_entries(running) == []
