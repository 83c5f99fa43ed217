"""Read endpoints: live state from the engine, records from the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Running


async def test_services_show_the_live_state_and_the_open_incident(running: Running) -> None:
    incident = await running.outage("portal/heartbeat", seconds_ago=300)
    response = await running.client.get("/api/v1/services", headers=running.auth("viewer"))
    services = {s["id"]: s for s in response.json()}
    assert list(services) == ["portal", "batch", "mail"]
    portal = services["portal"]
    assert portal["state"] == "down"
    assert portal["tier"] == "platina" and portal["pcn"] is True
    assert portal["open_incident"]["id"] == incident.id
    assert 290 <= portal["open_incident"]["elapsed_seconds"] <= 400
    assert services["mail"]["state"] == "unknown"
    assert services["mail"]["open_incident"] is None


async def test_services_filter_by_state_and_tier(running: Running) -> None:
    await running.outage("portal/heartbeat")
    viewer = running.auth("viewer")
    down = await running.client.get("/api/v1/services?state=down", headers=viewer)
    assert [s["id"] for s in down.json()] == ["portal"]
    bronze = await running.client.get("/api/v1/services?tier=bronze", headers=viewer)
    assert [s["id"] for s in bronze.json()] == ["mail"]


async def test_service_detail_lists_checks_with_their_last_result(running: Running) -> None:
    await running.outage("portal/heartbeat")
    response = await running.client.get("/api/v1/services/portal", headers=running.auth("viewer"))
    body = response.json()
    assert body["name"] == "Portal da Segurança Social"
    [check] = body["checks"]
    assert check["id"] == "portal/heartbeat" and check["kind"] == "heartbeat"
    assert check["hard_state"] == "down"
    assert check["last_outcome"] == "fail"
    assert check["last_result"]["reason"] == "HTTP 503"


async def test_service_results_are_newest_first(running: Running) -> None:
    await running.outage("portal/heartbeat")
    response = await running.client.get(
        "/api/v1/services/portal/results?check=heartbeat&limit=1", headers=running.auth("viewer")
    )
    [newest] = response.json()
    assert newest["reason"] == "HTTP 503" and newest["outcome"] == "fail"


async def test_unknown_service_is_404(running: Running) -> None:
    response = await running.client.get("/api/v1/services/nope", headers=running.auth("viewer"))
    assert response.status_code == 404


async def test_incidents_filter_by_status_and_page_newest_first(running: Running) -> None:
    await running.outage("mail/heartbeat", seconds_ago=3600, restored=True)
    await running.outage("portal/heartbeat", seconds_ago=600)
    viewer = running.auth("viewer")
    page = (await running.client.get("/api/v1/incidents?limit=1", headers=viewer)).json()
    assert page["total"] == 2 and page["limit"] == 1
    assert [i["service"] for i in page["items"]] == ["portal"]
    second = (await running.client.get("/api/v1/incidents?limit=1&offset=1", headers=viewer)).json()
    assert [i["service"] for i in second["items"]] == ["mail"]
    closed = (await running.client.get("/api/v1/incidents?status=closed", headers=viewer)).json()
    assert [i["service"] for i in closed["items"]] == ["mail"]
    assert closed["items"][0]["restore_seconds"] == 90.0
    opened = (await running.client.get("/api/v1/incidents?status=open", headers=viewer)).json()
    assert [i["service"] for i in opened["items"]] == ["portal"]
    platina = (await running.client.get("/api/v1/incidents?tier=platina", headers=viewer)).json()
    assert [i["service"] for i in platina["items"]] == ["portal"]


async def test_incidents_filter_by_time_range(running: Running) -> None:
    await running.outage("mail/heartbeat", seconds_ago=7200, restored=True)
    since = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    response = await running.client.get(
        "/api/v1/incidents", params={"from": since}, headers=running.auth("viewer")
    )
    assert response.json()["total"] == 0


async def test_incident_detail_has_the_review_timeline(running: Running) -> None:
    incident = await running.outage("mail/heartbeat", seconds_ago=900)
    await running.evaluate_alerts()
    running.store.annotate(incident.id, "cause", "disk full", "ana", datetime.now(UTC))
    response = await running.client.get(
        f"/api/v1/incidents/{incident.id}", headers=running.auth("viewer")
    )
    body = response.json()
    assert body["service_name"] == "Correio"
    assert [a["text"] for a in body["annotations"]] == ["disk full"]
    assert "ServiceDown/mail" in [a["alert_id"] for a in body["alerts"]]
    kinds = [entry["kind"] for entry in body["timeline"]]
    assert kinds[0] == "started" and kinds[-1] == "annotation"
    assert {"confirmed", "alert", "state"} <= set(kinds) and "ended" not in kinds
    assert body["timeline"][0]["text"] == "mail/heartbeat: HTTP 503 from the portal"


async def test_a_closed_incident_timeline_ends_with_the_restoration(running: Running) -> None:
    incident = await running.outage("mail/heartbeat", seconds_ago=900, restored=True)
    response = await running.client.get(
        f"/api/v1/incidents/{incident.id}", headers=running.auth("viewer")
    )
    timeline = response.json()["timeline"]
    assert timeline[-1]["kind"] == "ended" and timeline[-1]["text"] == "1.5 min"


async def test_missing_incident_is_404(running: Running) -> None:
    response = await running.client.get("/api/v1/incidents/99", headers=running.auth("viewer"))
    assert response.status_code == 404


async def test_alerts_show_acks_of_this_firing_only(running: Running) -> None:
    from alerting import alert_store

    yesterday = datetime.now(UTC) - timedelta(days=1)
    old = alert_store.request_ack(running.store, "ServiceDown/portal", "old", "", yesterday)
    alert_store.mark_applied(running.store, [old], yesterday)  # an earlier firing's ack
    await running.outage("portal/heartbeat")
    await running.evaluate_alerts()
    alerts = (await running.client.get("/api/v1/alerts", headers=running.auth("viewer"))).json()
    [alert] = [a for a in alerts if a["alert_id"] == "ServiceDown/portal"]
    assert alert["state"] == "firing" and alert["severity"] == "critical"
    assert alert["service"] == "portal" and alert["incident_id"] == 1
    assert alert["acknowledged"] is False and alert["acks"] == []


async def test_indicators_default_to_the_current_month_with_grades(running: Running) -> None:
    response = await running.client.get("/api/v1/indicators", headers=running.auth("viewer"))
    body = response.json()
    assert {s["id"] for s in body["services"]} == {"portal", "batch", "mail"}
    assert set(body["quar"]) == {"ind3", "ind4", "coverage", "objective"}
    assert body["quar"]["ind4"]["target"] == 35


async def test_indicators_for_a_named_period_and_a_bad_one(running: Running) -> None:
    viewer = running.auth("viewer")
    good = await running.client.get("/api/v1/indicators?period=2025-10", headers=viewer)
    assert good.json()["period"]["label"] == "2025-10"
    bad = await running.client.get("/api/v1/indicators?period=2025-13", headers=viewer)
    assert bad.status_code == 422
    half = await running.client.get("/api/v1/indicators?from=2025-10-01", headers=viewer)
    assert half.status_code == 422


async def test_catalog_summary_counts_tiers_and_macro_services(running: Running) -> None:
    body = (await running.client.get("/api/v1/catalog", headers=running.auth("viewer"))).json()
    assert body["services"] == 3 and body["checks"] == 3
    assert body["tiers"] == {"platina": 1, "ouro": 1, "bronze": 1}
    assert body["reload_ok"] is True


async def test_openapi_is_published_under_the_api_prefix(running: Running) -> None:
    spec = (await running.client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/incidents/{incident_id}/annotations" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_a_state_older_than_the_silence_threshold_is_marked_stale(
    running: Running,
) -> None:
    await running.outage("portal/heartbeat", seconds_ago=4 * 3600)  # heartbeat: 1 h interval
    body = (await running.client.get("/api/v1/services", headers=running.auth("viewer"))).json()
    by_id = {s["id"]: s for s in body}
    assert by_id["portal"]["state"] == "down" and by_id["portal"]["stale"] is True
    assert not any(s["stale"] for sid, s in by_id.items() if sid != "portal")  # never seen
