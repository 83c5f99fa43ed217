"""Write endpoints do their work and leave an audit trail: who, role, what, when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerting import alert_store
from tests.api.conftest import Running


async def _audit(running: Running) -> list[dict[str, Any]]:
    response = await running.client.get("/api/v1/audit", headers=running.auth("admin"))
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_annotating_an_incident_stores_the_note_and_audits_it(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    body = {"field": "false_alarm", "text": "probe host rebooted"}
    response = await running.client.post(
        f"/api/v1/incidents/{incident.id}/annotations", json=body, headers=running.auth("operator")
    )
    assert response.status_code == 201
    assert response.json()["author"] == "operator-token"
    [note] = running.store.annotations(incident.id)
    assert (note.field, note.text, note.author) == (
        "false_alarm",
        "probe host rebooted",
        "operator-token",
    )
    [entry] = await _audit(running)
    assert entry["actor"] == "operator-token" and entry["role"] == "operator"
    assert entry["action"] == "incident.annotate" and entry["target"] == f"incident/{incident.id}"
    assert entry["detail"] == body
    assert abs(datetime.fromisoformat(entry["at"]) - datetime.now(UTC)) < timedelta(seconds=30)


async def test_annotation_fields_are_validated(running: Running) -> None:
    incident = await running.outage("portal/heartbeat")
    bad = {"field": "blame", "text": "x"}
    response = await running.client.post(
        f"/api/v1/incidents/{incident.id}/annotations", json=bad, headers=running.auth("operator")
    )
    assert response.status_code == 422
    assert await _audit(running) == []


async def test_annotating_a_missing_incident_is_404_and_not_audited(running: Running) -> None:
    response = await running.client.post(
        "/api/v1/incidents/42/annotations",
        json={"field": "note", "text": "x"},
        headers=running.auth("operator"),
    )
    assert response.status_code == 404
    assert await _audit(running) == []


async def test_acknowledging_an_alert_requests_the_ack_and_audits_it(running: Running) -> None:
    await running.outage("portal/heartbeat")
    await running.evaluate_alerts()
    response = await running.client.post(
        "/api/v1/alerts/ServiceDown/portal/ack",
        json={"comment": "a equipa DAD foi chamada"},
        headers=running.auth("operator"),
    )
    assert response.status_code == 202
    [ack] = alert_store.pending_acks(running.store)
    assert (ack.alert_id, ack.author) == ("ServiceDown/portal", "operator-token")
    await running.evaluate_alerts()  # the agent applies it: reminders stop
    assert alert_store.pending_acks(running.store) == []
    alerts = (await running.client.get("/api/v1/alerts", headers=running.auth("viewer"))).json()
    [alert] = [a for a in alerts if a["alert_id"] == "ServiceDown/portal"]
    assert alert["acknowledged"] is True
    assert alert["acks"][0]["comment"] == "a equipa DAD foi chamada"
    assert alert["acks"][0]["applied"] is True
    [entry] = await _audit(running)
    assert (entry["action"], entry["target"]) == ("alert.ack", "alert/ServiceDown/portal")


async def test_acknowledging_an_unknown_alert_is_404(running: Running) -> None:
    response = await running.client.post(
        "/api/v1/alerts/ServiceDown/nope/ack", json={}, headers=running.auth("operator")
    )
    assert response.status_code == 404
    assert alert_store.pending_acks(running.store) == []


async def test_maintenance_windows_are_created_listed_and_cancelled(running: Running) -> None:
    start = datetime.now(UTC) + timedelta(hours=2)
    body = {
        "service": "mail",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "reason": "actualização do Exchange",
    }
    operator = running.auth("operator")
    created = await running.client.post("/api/v1/maintenance", json=body, headers=operator)
    assert created.status_code == 201
    window = created.json()
    assert window["retroactive"] is False and window["author"] == "operator-token"
    listed = (await running.client.get("/api/v1/maintenance", headers=operator)).json()
    assert [w["id"] for w in listed] == [window["id"]]
    cancel = await running.client.post(
        f"/api/v1/maintenance/{window['id']}/cancel", headers=operator
    )
    assert cancel.json()["cancelled_at"] is not None
    assert (await running.client.get("/api/v1/maintenance", headers=operator)).json() == []
    actions = [e["action"] for e in await _audit(running)]
    assert actions == ["maintenance.cancel", "maintenance.add"]


async def test_a_window_that_already_started_is_retroactive(running: Running) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    body = {"service": "mail", "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(), "reason": "late"}  # fmt: skip
    created = await running.client.post(
        "/api/v1/maintenance", json=body, headers=running.auth("operator")
    )
    assert created.json()["retroactive"] is True


async def test_bad_windows_are_refused(running: Running) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    operator = running.auth("operator")
    backwards = {"service": "mail", "start": start.isoformat(),
                 "end": (start - timedelta(hours=1)).isoformat(), "reason": "x"}  # fmt: skip
    assert (
        await running.client.post("/api/v1/maintenance", json=backwards, headers=operator)
    ).status_code == 422
    unknown = {**backwards, "service": "nope", "end": (start + timedelta(hours=1)).isoformat()}
    assert (
        await running.client.post("/api/v1/maintenance", json=unknown, headers=operator)
    ).status_code == 422
    naive = {**unknown, "service": "mail", "start": "2030-01-01T10:00:00"}
    assert (
        await running.client.post("/api/v1/maintenance", json=naive, headers=operator)
    ).status_code == 422
    missing = await running.client.post("/api/v1/maintenance/999/cancel", headers=operator)
    assert missing.status_code == 404
    assert await _audit(running) == []


async def test_reload_picks_up_a_new_service_and_is_audited(running: Running) -> None:
    text = running.catalog_path.read_text(encoding="utf-8")
    running.catalog_path.write_text(
        text + "  - id: extra\n    name: Extra\n    macro_service: formacao\n    tier: prata\n"
        "    checks: [{heartbeat: {max_silence: 1h}}]\n",
        encoding="utf-8",
    )
    response = await running.client.post("/api/v1/reload", headers=running.auth("admin"))
    assert response.status_code == 200 and response.json()["services"] == 4
    services = (await running.client.get("/api/v1/services", headers=running.auth("viewer"))).json()
    assert "extra" in [s["id"] for s in services]
    [entry] = await _audit(running)
    assert (entry["action"], entry["role"], entry["detail"]["ok"]) == (
        "catalog.reload",
        "admin",
        True,
    )


async def test_an_invalid_catalogue_is_refused_and_the_old_one_keeps_running(
    running: Running,
) -> None:
    running.catalog_path.write_text("version: 1\nservices: [{id: 3}]\n", encoding="utf-8")
    response = await running.client.post("/api/v1/reload", headers=running.auth("admin"))
    assert response.status_code == 422
    assert response.json()["ok"] is False and response.json()["error"]
    assert len(running.agent.catalog.services) == 3
    [entry] = await _audit(running)
    assert entry["detail"]["ok"] is False
