"""OAuth2 client credentials for API-gateway health endpoints, and a request body from a file
(#17 option 10), against a real loopback token server that counts the token requests."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from checks import http, oauth2
from checks.clock import ManualClock
from checks.context import ProbeContext
from checks.http_clients import HttpClientPool
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec
from tests.checks.loopback import HttpServer, Reply, Request

SECRET = "s3cr3t-client-secret"


class Provider:
    """A token endpoint and the API behind it: `/token` hands out tok-1, tok-2, ... to the
    client `vigia` with SECRET; `/api` accepts the tokens handed out and not revoked."""

    def __init__(self, expires_in: Any = 100) -> None:
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.forms: list[dict[str, list[str]]] = []
        self.refuse_client = False
        self.revoked: set[str] = set()

    def token(self, request: Request) -> Reply:
        form = parse_qs(request.body.decode())
        self.forms.append(form)
        client = _basic(request.headers.get("authorization", "")) or (
            form.get("client_id", [""])[0],
            form.get("client_secret", [""])[0],
        )
        if self.refuse_client or client != ("vigia", SECRET):
            return Reply(401, json.dumps({"error": "invalid_client", "error_description": SECRET}))
        self.issued.append(f"tok-{len(self.issued) + 1}")
        answer: dict[str, Any] = {"access_token": self.issued[-1], "token_type": "Bearer"}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        return Reply(200, json.dumps(answer), {"content-type": "application/json"})

    def api(self, request: Request) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        valid = token in self.issued and token not in self.revoked
        return Reply(200, '{"status": "UP"}') if valid else Reply(401, "unauthorized")


def _basic(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
async def ctx(clock: ManualClock) -> AsyncIterator[ProbeContext]:
    context = ProbeContext(http=HttpClientPool(), heartbeats=None, clock=clock)  # type: ignore[arg-type]
    yield context
    await context.aclose()


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
async def server(provider: Provider) -> AsyncIterator[HttpServer]:
    async with HttpServer({"/token": provider.token, "/api": provider.api}) as running:
        yield running


def spec(server: HttpServer, **oauth: Any) -> HttpSpec:
    config = {"token_url": server.url("/token"), "client_id": "vigia", "client_secret": SECRET}
    return HttpSpec.model_validate(
        {"url": server.url("/api"), "auth": {"oauth2": {**config, **oauth}}}
    )


async def run(ctx: ProbeContext, checked: HttpSpec, check: str = "gw/health") -> Verdict:
    return await http.probe(checked, 2.0, ctx, check_id=check)


async def test_the_token_is_asked_once_and_reused_until_shortly_before_it_expires(
    ctx: ProbeContext, server: HttpServer, provider: Provider, clock: ManualClock
) -> None:
    checked = spec(server)
    first = await run(ctx, checked)
    clock.advance(60)
    second = await run(ctx, checked)
    clock.advance(29)  # 89 s: 100 s lifetime less a 10 s margin is not reached yet
    third = await run(ctx, checked)
    clock.advance(2)  # 91 s: refreshed before the provider would refuse it
    fourth = await run(ctx, checked)
    assert [v.outcome for v in (first, second, third, fourth)] == [Outcome.OK] * 4, first.reason
    assert provider.issued == ["tok-1", "tok-2"]
    assert [v.measurements["token"] for v in (first, second, third, fourth)] == [
        "new",
        "cached",
        "cached",
        "new",
    ]
    assert "phase_token" in first.measurements and "phase_token" not in second.measurements
    assert provider.forms[0] == {"grant_type": ["client_credentials"]}  # client in Basic


async def test_the_cache_is_per_check(
    ctx: ProbeContext, server: HttpServer, provider: Provider
) -> None:
    await run(ctx, spec(server), "gw/health")
    await run(ctx, spec(server), "gw/other")
    await run(ctx, spec(server), "gw/health")
    assert len(provider.issued) == 2


async def test_concurrent_runs_share_one_token_request(
    ctx: ProbeContext, server: HttpServer, provider: Provider
) -> None:
    checked = spec(server)
    verdicts = await asyncio.gather(*(run(ctx, checked) for _ in range(5)))
    assert all(v.outcome is Outcome.OK for v in verdicts)
    assert provider.issued == ["tok-1"]


async def test_scopes_audience_and_client_in_the_body(
    ctx: ProbeContext, server: HttpServer, provider: Provider
) -> None:
    checked = spec(server, scopes=["health:read", "openid"], audience="gw", client_auth="body")
    verdict = await run(ctx, checked)
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert provider.forms[0] == {
        "grant_type": ["client_credentials"],
        "scope": ["health:read openid"],
        "audience": ["gw"],
        "client_id": ["vigia"],
        "client_secret": [SECRET],
    }


async def test_a_refused_client_fails_naming_the_token_step_never_the_secret(
    ctx: ProbeContext, server: HttpServer, provider: Provider
) -> None:
    provider.refuse_client = True
    verdict = await run(ctx, spec(server))
    assert verdict.outcome is Outcome.FAIL
    origin = f"http://127.0.0.1:{server.port}/…"
    assert verdict.reason == f"OAuth2 token request to {origin}: status 401 (invalid_client)"
    assert not [r for r in server.requests if r.path == "/api"]  # the API was not called
    assert SECRET not in repr(verdict)


async def test_a_token_endpoint_that_is_down_is_a_token_step_failure(
    ctx: ProbeContext, server: HttpServer
) -> None:
    async with HttpServer({}) as gone:
        dead = gone.url("/token")
    verdict = await run(ctx, spec(server, token_url=dead))
    assert verdict.reason == (
        f"OAuth2 token request to http://127.0.0.1:{gone.port}/…: connection refused"
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Reply(200, "<html>"), "the answer is not JSON"),
        (Reply(200, '{"token_type": "Bearer"}'), "the answer has no access_token"),
        (Reply(200, '{"access_token": "t", "expires_in": "soon"}'), "expires_in is not"),
        (Reply(503, "down"), "status 503"),
    ],
)
async def test_a_bad_token_answer_says_what_is_wrong(
    ctx: ProbeContext, answer: Reply, reason: str
) -> None:
    async with HttpServer({"/token": lambda _: answer}) as server:
        verdict = await run(ctx, spec(server))
    assert verdict.reason.startswith(f"OAuth2 token request to http://127.0.0.1:{server.port}/…: ")
    assert verdict.reason.endswith(reason) or reason in verdict.reason, verdict.reason


async def test_a_cached_token_the_api_refuses_is_renewed_once(
    ctx: ProbeContext, server: HttpServer, provider: Provider
) -> None:
    checked = spec(server)
    await run(ctx, checked)
    provider.revoked.add("tok-1")  # the provider restarted, or an admin revoked it
    verdict = await run(ctx, checked)
    again = await run(ctx, checked)
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["token"] == "renewed"
    assert again.measurements["token"] == "cached"
    assert provider.issued == ["tok-1", "tok-2"]
    api = [r.headers["authorization"] for r in server.requests if r.path == "/api"]
    assert api == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]


async def test_an_answer_without_expires_in_is_cached_for_the_default_lifetime(
    ctx: ProbeContext, server: HttpServer, provider: Provider, clock: ManualClock
) -> None:
    provider.expires_in = None
    checked = spec(server)
    await run(ctx, checked)
    clock.advance(oauth2.DEFAULT_LIFETIME - 31)
    await run(ctx, checked)
    clock.advance(2)
    await run(ctx, checked)
    assert len(provider.issued) == 2


async def test_the_request_body_comes_from_body_file(ctx: ProbeContext, tmp_path: Path) -> None:
    payload = tmp_path / "query.json"
    payload.write_text('{"query": "health", "deep": true}\n')
    async with HttpServer({"/graphql": lambda _: Reply(200, "ok")}) as server:
        checked = HttpSpec(
            url=server.url("/graphql"),
            method="POST",
            body_file=str(payload),
            headers={"Content-Type": "application/json"},
        )
        payload.write_text("changed after load")  # read once, when the catalogue loaded
        verdict = await run(ctx, checked)
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert server.requests[0].body == b'{"query": "health", "deep": true}\n'
    assert server.requests[0].headers["content-type"] == "application/json"
