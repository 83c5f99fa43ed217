"""Every endpoint refuses a missing or wrong token (401) and a too-low role (403), with no data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.api.auth import AuthError, Role, authenticate, authorize, hash_token
from agent.settings import TokenEntry
from tests.api.conftest import Running

FUTURE = datetime.now(UTC) + timedelta(days=2)
WINDOW = {
    "service": "mail",
    "start": FUTURE.isoformat(),
    "end": (FUTURE + timedelta(hours=1)).isoformat(),
    "reason": "upgrade",
}

# (method, path, json body, least role that may call it, success status)
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, str, int]] = [
    ("GET", "/api/v1/services", None, "viewer", 200),
    ("GET", "/api/v1/services/portal", None, "viewer", 200),
    ("GET", "/api/v1/services/portal/checks", None, "viewer", 200),
    ("GET", "/api/v1/services/portal/results", None, "viewer", 200),
    ("GET", "/api/v1/incidents", None, "viewer", 200),
    ("GET", "/api/v1/incidents/1", None, "viewer", 200),
    ("GET", "/api/v1/alerts", None, "viewer", 200),
    ("GET", "/api/v1/maintenance", None, "viewer", 200),
    ("GET", "/api/v1/indicators", None, "viewer", 200),
    ("GET", "/api/v1/catalog", None, "viewer", 200),
    ("POST", "/api/v1/incidents/1/annotations", {"field": "note", "text": "x"}, "operator", 201),
    ("POST", "/api/v1/alerts/ServiceDown/portal/ack", {"comment": "on it"}, "operator", 202),
    ("POST", "/api/v1/maintenance", WINDOW, "operator", 201),
    ("POST", "/api/v1/reload", None, "admin", 200),
    ("GET", "/api/v1/audit", None, "admin", 200),
]
IDS = [f"{method} {path}" for method, path, *_ in ENDPOINTS]


@pytest.fixture
async def world(running: Running) -> Running:
    incident = await running.outage("portal/heartbeat")
    assert incident.id == 1
    await running.evaluate_alerts()
    return running


def _refused_without_data(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"detail"}
    assert "portal" not in response.text


@pytest.mark.parametrize(("method", "path", "body", "role", "ok"), ENDPOINTS, ids=IDS)
async def test_missing_token_gets_401_and_no_data(
    world: Running, method: str, path: str, body: Any, role: str, ok: int
) -> None:
    response = await world.client.request(method, path, json=body)
    _refused_without_data(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "body", "role", "ok"), ENDPOINTS, ids=IDS)
async def test_wrong_token_gets_401_and_no_data(
    world: Running, method: str, path: str, body: Any, role: str, ok: int
) -> None:
    headers = {"Authorization": "Bearer vigia_not-a-real-token"}
    response = await world.client.request(method, path, json=body, headers=headers)
    _refused_without_data(response, 401)


@pytest.mark.parametrize(("method", "path", "body", "role", "ok"), ENDPOINTS, ids=IDS)
async def test_each_role_gets_exactly_what_it_may(
    world: Running, method: str, path: str, body: Any, role: str, ok: int
) -> None:
    needed = Role.named(role)
    for caller in ("viewer", "operator", "admin"):
        response = await world.client.request(method, path, json=body, headers=world.auth(caller))
        if Role.named(caller) >= needed:
            assert response.status_code == ok, (caller, response.text)
        else:
            _refused_without_data(response, 403)


@pytest.mark.parametrize("anonymous_board", [True])
async def test_anonymous_board_reads_the_board_only_and_never_writes(world: Running) -> None:
    assert (await world.client.get("/api/v1/services")).status_code == 200
    # annotations, delivery errors, probe reasons and the catalogue's path need a token
    for path in (
        "/api/v1/incidents/1",
        "/api/v1/incidents",
        "/api/v1/alerts",
        "/api/v1/catalog",
        "/api/v1/services/portal",
        "/api/v1/services/portal/results",
        "/api/v1/maintenance",
        "/api/v1/indicators?period=2026-10",
    ):
        _refused_without_data(await world.client.get(path), 401)
    annotate = {"field": "note", "text": "anonymous"}
    response = await world.client.post("/api/v1/incidents/1/annotations", json=annotate)
    _refused_without_data(response, 401)
    assert (await world.client.get("/api/v1/audit")).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await world.client.get("/api/v1/services", headers=wrong)).status_code == 401


def test_only_the_hash_of_a_token_is_compared() -> None:
    entry = TokenEntry(name="ops", role="operator", hash=hash_token("vigia_abc"))
    assert authenticate("vigia_abc", [entry]) is not None
    assert authenticate("vigia_abd", [entry]) is None
    assert authenticate(entry.hash, [entry]) is None  # the hash itself is not a token
    assert authenticate("", [entry]) is None


def test_a_viewer_token_is_refused_a_write_with_403() -> None:
    entry = TokenEntry(name="wall", role="viewer", hash=hash_token("vigia_wall"))
    with pytest.raises(AuthError) as refused:
        authorize("vigia_wall", [entry], Role.OPERATOR, anonymous_reads=True)
    assert refused.value.status == 403
