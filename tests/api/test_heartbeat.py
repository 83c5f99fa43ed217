"""POST /api/v1/heartbeat/{service}/{check}: the check's own token, not an API token."""

from __future__ import annotations

from tests.api.conftest import Running


async def test_a_beat_with_the_checks_token_is_recorded(running: Running) -> None:
    response = await running.client.post(
        "/api/v1/heartbeat/batch/nightly", headers={"Authorization": "Bearer s3cret-beat"}
    )
    assert response.status_code == 200
    assert response.json()["check"] == "batch/nightly"
    assert running.agent.probes.heartbeats.last("batch/nightly") is not None


async def test_the_token_may_come_as_a_query_parameter(running: Running) -> None:
    response = await running.client.post("/api/v1/heartbeat/batch/nightly?token=s3cret-beat")
    assert response.status_code == 200


async def test_a_wrong_or_missing_token_is_401_and_records_nothing(running: Running) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, running.auth("admin")):
        response = await running.client.post("/api/v1/heartbeat/batch/nightly", headers=headers)
        assert response.status_code == 401, headers
    assert running.agent.probes.heartbeats.last("batch/nightly") is None


async def test_a_check_without_a_token_accepts_any_beat(running: Running) -> None:
    response = await running.client.post("/api/v1/heartbeat/portal/heartbeat")
    assert response.status_code == 200


async def test_unknown_checks_are_404(running: Running) -> None:
    response = await running.client.post("/api/v1/heartbeat/portal/nope")
    assert response.status_code == 404
