"""Console pages over HTTP (no browser): sign-in, board, live sections, forms, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from alerting import alert_store
from tests.api.conftest import Running


async def _sign_in(running: Running, role: str) -> None:
    response = await running.client.post(
        "/login", data={"token": running.tokens[role], "next": "/"}
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, html
    return match.group(1)


async def test_the_board_asks_for_a_token_first(running: Running) -> None:
    response = await running.client.get("/")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    live = await running.client.get("/board/live")
    assert live.status_code == 401 and "portal" not in live.text


async def test_a_wrong_token_does_not_sign_in(running: Running) -> None:
    response = await running.client.post("/login", data={"token": "vigia_nope", "next": "/"})
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert "Token inválido" in response.text


@pytest.mark.parametrize("anonymous_board", [True])
async def test_the_anonymous_board_shows_without_a_token_but_offers_no_actions(
    running: Running,
) -> None:
    await running.outage("portal/heartbeat")
    await running.evaluate_alerts()
    board = await running.client.get("/")
    assert board.status_code == 200
    assert "Reconhecer exige um token de operador" in board.text
    assert 'action="/alerts/ack"' not in board.text
    for page in ("/services/portal", "/incidents/1", "/reports"):  # the board only
        refused = await running.client.get(page)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")


async def test_the_board_shows_tiles_incidents_and_alerts(running: Running) -> None:
    incident = await running.outage("portal/heartbeat", seconds_ago=40 * 60)
    await running.evaluate_alerts()
    await _sign_in(running, "operator")
    html = (await running.client.get("/")).text
    assert 'id="tile-portal"' in html and 'data-state="down"' in html
    assert "Em baixo" in html and "✖" in html  # state by colour, icon and word
    assert f'href="/incidents/{incident.id}"' in html
    assert 'class="badge lvl-late"' in html  # 40 min is past the 35 min meta
    assert 'action="/alerts/ack"' in html
    assert html.index("tier-platina") < html.index("tier-ouro") < html.index("tier-bronze")


async def test_live_updates_send_only_changed_sections(running: Running) -> None:
    await _sign_in(running, "viewer")
    first = (await running.client.get("/board/live")).json()["sections"]
    sections = {"summary", "incidents", "alerts", "maintenance", "indicators", "locations"}
    assert set(first) == sections | {"tiles"}
    have = ",".join(f"{name}:{s['digest']}" for name, s in first.items())
    await running.outage("mail/heartbeat")
    changed = (await running.client.get("/board/live", params={"have": have})).json()["sections"]
    assert "tiles" in changed and "incidents" in changed
    assert "maintenance" not in changed
    assert 'id="tile-mail" href="/services/mail" data-state="down"' in changed["tiles"]["html"]


async def test_an_operator_annotates_an_incident_from_its_page(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    await _sign_in(running, "operator")
    page = await running.client.get(f"/incidents/{incident.id}")
    form = {"csrf": _csrf(page.text), "field": "cause", "text": "certificado expirado"}
    response = await running.client.post(f"/incidents/{incident.id}/annotate", data=form)
    assert response.status_code == 303
    [note] = running.store.annotations(incident.id)
    assert (note.text, note.author) == ("certificado expirado", "operator-token")
    assert "certificado expirado" in (await running.client.get(f"/incidents/{incident.id}")).text


async def test_an_operator_acknowledges_an_alert_from_the_board(running: Running) -> None:
    await running.outage("portal/heartbeat")
    await running.evaluate_alerts()
    await _sign_in(running, "operator")
    board = await running.client.get("/")
    form = {"csrf": _csrf(board.text), "alert_id": "ServiceDown/portal", "comment": "visto"}
    response = await running.client.post("/alerts/ack", data=form)
    assert response.status_code == 303
    [ack] = alert_store.pending_acks(running.store)
    assert (ack.author, ack.comment) == ("operator-token", "visto")
    assert "Reconhecido por operator-token" in (await running.client.get("/")).text


async def test_a_viewer_can_neither_annotate_nor_acknowledge(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    await running.evaluate_alerts()
    await _sign_in(running, "viewer")
    page = await running.client.get(f"/incidents/{incident.id}")
    assert "Anotar exige um token de operador" in page.text and "<textarea" not in page.text
    csrf = _csrf(page.text)
    note = {"csrf": csrf, "field": "note", "text": "x"}
    assert (
        await running.client.post(f"/incidents/{incident.id}/annotate", data=note)
    ).status_code == 403
    ack = {"csrf": csrf, "alert_id": "ServiceDown/portal"}
    assert (await running.client.post("/alerts/ack", data=ack)).status_code == 403
    assert running.store.annotations(incident.id) == []
    assert alert_store.pending_acks(running.store) == []


async def test_a_form_without_the_csrf_field_is_refused(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    await _sign_in(running, "operator")
    note = {"field": "note", "text": "forged"}
    response = await running.client.post(f"/incidents/{incident.id}/annotate", data=note)
    assert response.status_code == 403
    assert running.store.annotations(incident.id) == []


async def test_the_service_page_lists_checks_history_and_incidents(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    await _sign_in(running, "viewer")
    html = (await running.client.get("/services/portal")).text
    assert "Portal da Segurança Social" in html and "HTTP 503" in html
    assert f'href="/incidents/{incident.id}"' in html
    assert (await running.client.get("/services/nope")).status_code == 404


async def test_the_reports_page_lists_the_last_twelve_months(running: Running) -> None:
    await _sign_in(running, "viewer")
    html = (await running.client.get("/reports")).text
    assert html.count("/api/v1/indicators?period=") == 12


async def test_english_is_one_click_away(running: Running) -> None:
    await _sign_in(running, "viewer")
    switch = await running.client.get("/lang", params={"to": "en", "next": "/"})
    assert switch.status_code == 303
    html = (await running.client.get("/")).text
    assert '<html lang="en">' in html and "Open incidents" in html
    evil = await running.client.get("/lang", params={"to": "en", "next": "//evil.example"})
    assert evil.headers["location"] == "/"


async def test_templates_escape_what_they_show(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    running.store.annotate(incident.id, "note", "<script>alert(1)</script>", "x", datetime.now(UTC))
    await _sign_in(running, "viewer")
    html = (await running.client.get(f"/incidents/{incident.id}")).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


async def test_a_token_taken_out_of_the_settings_stops_at_the_next_reload(
    running: Running,
) -> None:
    await _sign_in(running, "operator")
    assert (await running.client.get("/")).status_code == 200
    agent = running.agent
    kept = tuple(e for e in agent.settings.tokens if e.role != "operator")
    agent.reread_settings = lambda: agent.settings.model_copy(update={"tokens": kept})
    admin, operator = running.auth("admin"), running.auth("operator")
    assert (await running.client.get("/api/v1/services", headers=operator)).status_code == 200
    assert (await running.client.post("/api/v1/reload", headers=admin)).status_code == 200
    assert (await running.client.get("/api/v1/services", headers=operator)).status_code == 401
    board = await running.client.get("/")  # the console session ended with its token
    assert board.status_code == 303 and board.headers["location"].startswith("/login")
    assert (await running.client.get("/api/v1/services", headers=admin)).status_code == 200


async def test_a_settings_file_that_no_longer_loads_keeps_the_running_tokens(
    running: Running,
) -> None:
    from agent.settings import SettingsError

    def broken() -> Any:
        raise SettingsError([])

    running.agent.reread_settings = broken
    admin = running.auth("admin")
    response = await running.client.post("/api/v1/reload", headers=admin)
    assert response.status_code == 422 and running.agent.reload_status.ok is False
    assert (await running.client.get("/api/v1/services", headers=admin)).status_code == 200


async def test_a_stale_tile_says_so(running: Running) -> None:
    await running.outage("portal/heartbeat", seconds_ago=4 * 3600)  # past 2 x 1 h + timeout
    await _sign_in(running, "viewer")
    html = (await running.client.get("/")).text
    tile = html[html.index('id="tile-portal"') :].split("</li>", 1)[0]
    assert 'data-stale="true"' in tile and "sem resultados recentes" in tile
