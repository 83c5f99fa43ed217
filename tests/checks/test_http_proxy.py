"""Forward proxies for the http probe (#17 option 4): absolute-form http, CONNECT for https,
credentials from the proxy URL, `no_proxy`, and reasons that name the failing hop; against a
real loopback proxy the test starts, which counts the requests it gets."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from checks import http
from checks.context import ProbeContext
from checks.http_proxy import bypasses
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec
from tests.checks.loopback import HttpServer, Pki, Reply
from tests.checks.proxyserver import ForwardProxy

PASSWORD = "proxy-pa55word"


@pytest.fixture
async def origin() -> AsyncIterator[HttpServer]:
    async with HttpServer({"/": lambda _: Reply(200, "olá"), "/500": lambda _: Reply(500)}) as s:
        yield s


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as running:
        yield running


async def run(ctx: ProbeContext, url: str, **spec: Any) -> Verdict:
    return await http.probe(HttpSpec(url=url, **spec), 2.0, ctx, check_id="svc/http")


@pytest.mark.parametrize("reuse", [False, True])
async def test_a_plain_http_target_is_asked_through_the_proxy(
    ctx: ProbeContext, origin: HttpServer, proxy: ForwardProxy, reuse: bool
) -> None:
    verdict = await run(ctx, origin.url(), proxy=proxy.url(), reuse_connection=reuse)
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert [(r.method, r.target) for r in proxy.requests] == [("GET", origin.url())]
    assert origin.requests[0].path == "/"


async def test_an_https_target_goes_through_a_connect_tunnel_with_the_origins_tls(
    ctx: ProbeContext, proxy: ForwardProxy, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    async with HttpServer({"/": lambda _: Reply(200, "ok")}, pki.server_context()) as origin:
        verdict = await run(ctx, origin.url(), proxy=proxy.url(), ca_bundle=pki.ca_bundle)
        untrusted = await run(ctx, origin.url(), proxy=proxy.url())
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert proxy.requests[0].method == "CONNECT"
    assert proxy.requests[0].target == f"127.0.0.1:{origin.port}"
    assert "phase_tls" in verdict.measurements  # the handshake is the origin's, end to end
    assert untrusted.reason.startswith("TLS handshake failed: unable to get local issuer")
    assert untrusted.reason.endswith(f"(via proxy http://127.0.0.1:{proxy.port})")


async def test_proxy_credentials_go_as_proxy_authorization_and_never_in_a_reason(
    ctx: ProbeContext, origin: HttpServer
) -> None:
    async with ForwardProxy(credentials=("vigia", PASSWORD)) as guarded:
        refused = await run(ctx, origin.url(), proxy=guarded.url("vigia", "wrong-one"))
        passed = await run(ctx, origin.url(), proxy=guarded.url("vigia", PASSWORD))
        failing = await run(ctx, origin.url("/500"), proxy=guarded.url("vigia", PASSWORD))
    assert passed.outcome is Outcome.OK, passed.reason
    assert refused.outcome is Outcome.FAIL
    assert "407" in refused.reason or "Proxy Authentication" in refused.reason, refused.reason
    shown = f"http://127.0.0.1:{guarded.port}"
    assert failing.reason == f"status 500, expected 2xx (via proxy {shown})"
    assert all(PASSWORD not in v.reason and "wrong-one" not in v.reason for v in (refused, failing))


async def test_a_tunnel_the_proxy_refuses_names_the_proxy_hop(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    async with (
        ForwardProxy(credentials=("vigia", PASSWORD)) as guarded,
        HttpServer({"/": lambda _: Reply(200)}, pki.server_context()) as origin,
    ):
        verdict = await run(ctx, origin.url(), proxy=guarded.url(), ca_bundle=pki.ca_bundle)
    assert verdict.reason == (
        f"proxy http://127.0.0.1:{guarded.port} refused the tunnel: "
        "407 Proxy Authentication Required"
    )


async def test_a_proxy_that_is_down_is_named_as_the_failing_hop(
    ctx: ProbeContext, origin: HttpServer
) -> None:
    async with ForwardProxy() as gone:
        dead = gone.url()
    verdict = await run(ctx, origin.url(), proxy=dead)
    assert verdict.reason == f"proxy http://127.0.0.1:{gone.port}: connection refused"
    assert origin.requests == []


async def test_no_proxy_hosts_are_reached_directly(
    ctx: ProbeContext, origin: HttpServer, proxy: ForwardProxy
) -> None:
    direct = await run(ctx, origin.url(), proxy=proxy.url(), no_proxy=["127.0.0.0/8"])
    proxied = await run(ctx, origin.url(), proxy=proxy.url(), no_proxy=["interno.pt"])
    assert direct.outcome is proxied.outcome is Outcome.OK
    assert len(proxy.requests) == 1  # only the second
    assert len(origin.requests) == 2


@pytest.mark.parametrize(
    ("host", "rules", "bypassed"),
    [
        ("app.interno.pt", ["interno.pt"], True),
        ("app.interno.pt", [".interno.pt"], True),
        ("interno.pt", [".interno.pt"], True),
        ("naointerno.pt", ["interno.pt"], False),
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("10.1.2.3", ["10.1.2.3"], True),
        ("11.1.2.3", ["10.0.0.0/8"], False),
        ("::1", ["::1"], True),
        ("anything", ["*"], True),
        ("anything", [], False),
    ],
)
def test_no_proxy_rules_read_as_curl_reads_them(
    host: str, rules: list[str], bypassed: bool
) -> None:
    assert bypasses(host, rules) is bypassed


async def test_a_check_without_a_proxy_builds_no_proxy_pool(
    ctx: ProbeContext, origin: HttpServer
) -> None:
    connections = ctx.http.open(HttpSpec(url=origin.url()))
    transport = connections.for_url(origin.url())
    await connections.aclose()
    assert type(transport._pool).__name__ == "AsyncConnectionPool"


def test_proxy_urls_are_checked() -> None:
    for bad in ("ftp://proxy:21", "proxy:3128", "http://proxy:3128/path"):
        with pytest.raises(ValueError, match="proxy URL"):
            HttpSpec(url="http://x/", proxy=bad)
    assert ssl  # the https tests above use the stdlib context through Pki
