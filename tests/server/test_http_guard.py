"""The HTTP guard's settings, in process through the ASGI app (real server: test_http_limits)."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry

from agent.server import create_app
from agent.settings import Settings


def _client(settings: Settings) -> httpx.AsyncClient:
    app = create_app(CollectorRegistry(), lambda: {"healthy": True}, settings=settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def test_allowed_hosts_star_serves_any_host_name() -> None:
    async with _client(Settings(allowed_hosts=("*",))) as client:
        response = await client.get("/healthz", headers={"Host": "board.example"})
    assert response.status_code == 200


async def test_configured_allowed_hosts_replace_the_loopback_defaults() -> None:
    async with _client(Settings(allowed_hosts=("vigia.example",))) as client:
        named = await client.get("/healthz", headers={"Host": "vigia.example:9330"})
        loopback = await client.get("/healthz", headers={"Host": "localhost"})
    assert (named.status_code, loopback.status_code) == (200, 400)


async def test_the_external_url_host_is_allowed_by_default() -> None:
    settings = Settings(external_url="https://vigia.intra.example/")
    async with _client(settings) as client:
        response = await client.get("/healthz", headers={"Host": "vigia.intra.example"})
    assert response.status_code == 200


async def test_a_login_body_over_16_kib_gets_413_from_its_length() -> None:
    async with _client(Settings()) as client:
        response = await client.post("/login", content=b"token=" + b"x" * 17_000)
    assert response.status_code == 413
    assert "16384" in response.json()["detail"]
