"""#17's http options together: the TLS options and chain expiry on the origin's handshake
inside a proxy's CONNECT tunnel, ip_family on the connection to the proxy, and header rules
and TLS measurements on a scenario's steps; on real loopback servers and a real proxy."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checks import http, http_proxy, scenario
from checks.context import ProbeContext
from checks.http_backend import AsyncioBackend
from checks.http_clients import HttpClientPool
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec, ScenarioSpec
from tests.checks.loopback import HttpServer, Pki, Reply
from tests.checks.proxyserver import ForwardProxy
from tests.checks.test_ip_family import table_resolver

PROXY_HOST = "proxy.test"  # the test's resolver: 127.0.0.1 only


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as running:
        yield running


async def get(ctx: ProbeContext, url: str, **spec: Any) -> Verdict:
    return await http.probe(HttpSpec(url=url, **spec), 2.0, ctx, check_id="svc/http")


def _recording_sni(context: ssl.SSLContext) -> list[str | None]:
    seen: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    return seen


# --- TLS options inside a CONNECT tunnel -----------------------------------------------------


@pytest.mark.parametrize("reuse", [False, True])
async def test_server_name_is_the_origins_sni_inside_the_tunnel(
    ctx: ProbeContext, pki: Pki, proxy: ForwardProxy, reuse: bool
) -> None:
    context = pki.server_context("portal.internal")  # no SAN for 127.0.0.1
    asked = _recording_sni(context)
    async with HttpServer({"/": lambda _: Reply(200)}, context) as origin:
        fields: dict[str, Any] = {"ca_bundle": pki.ca_bundle, "reuse_connection": reuse}
        named = await get(
            ctx, origin.url(), proxy=proxy.url(), server_name="portal.internal", **fields
        )
        bare = await get(ctx, origin.url(), proxy=proxy.url(), **fields)
    assert named.outcome is Outcome.OK, named.reason
    assert asked[0] == "portal.internal"
    assert proxy.requests[0].target == f"127.0.0.1:{origin.port}"  # the tunnel goes to the URL
    assert named.measurements["expires_first_host"] == "portal.internal"
    assert isinstance(named.measurements["days_left"], int)
    assert bare.reason.startswith("TLS handshake failed: "), bare.reason  # 127.0.0.1: no SAN
    assert bare.reason.endswith(f"(via proxy http://127.0.0.1:{proxy.port})")


async def test_version_bounds_and_chain_expiry_are_the_origins_through_the_tunnel(
    ctx: ProbeContext, pki: Pki, proxy: ForwardProxy
) -> None:
    soon = datetime.now(UTC) + timedelta(days=9, hours=12)
    tls12 = pki.server_context(not_after=soon, max_version=ssl.TLSVersion.TLSv1_2)
    async with HttpServer({"/": lambda _: Reply(200)}, tls12) as origin:
        floor = await get(
            ctx, origin.url(), proxy=proxy.url(), ca_bundle=pki.ca_bundle, min_version="TLSv1.3"
        )
        plain = await get(ctx, origin.url(), proxy=proxy.url(), ca_bundle=pki.ca_bundle)
    assert floor.outcome is Outcome.FAIL and "TLS handshake" in floor.reason, floor.reason
    assert plain.outcome is Outcome.OK, plain.reason
    assert plain.measurements["tls_version"] == "TLSv1.2"
    assert (plain.measurements["days_left"], plain.measurements["expires_first_role"]) == (
        9,
        "leaf",
    )


@pytest.fixture
def trusted_proxy_ca(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """An https proxy is verified with the system CAs: the test's CA stands in for them."""
    monkeypatch.setattr(http_proxy, "_system_context", pki.client_context)


@pytest.mark.usefixtures("trusted_proxy_ca")
async def test_through_an_https_proxy_only_the_origins_handshake_is_named_and_measured(
    ctx: ProbeContext, pki: Pki
) -> None:
    in_5_days = datetime.now(UTC) + timedelta(days=5, hours=12)  # sooner than the origin's
    proxy_context = pki.server_context("localhost", "127.0.0.1", not_after=in_5_days)
    proxy_asked = _recording_sni(proxy_context)
    secure = ForwardProxy()
    secure._ssl = proxy_context  # the same proxy, behind TLS
    origin_context = pki.server_context(
        "portal.internal", not_after=datetime.now(UTC) + timedelta(days=20, hours=12)
    )
    origin_asked = _recording_sni(origin_context)
    async with secure, HttpServer({"/": lambda _: Reply(200)}, origin_context) as origin:
        verdict = await get(
            ctx,
            origin.url(),
            proxy=f"https://localhost:{secure.port}",
            server_name="portal.internal",
            ca_bundle=pki.ca_bundle,
        )
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert proxy_asked == ["localhost"]  # the proxy by its own name, not the check's
    assert origin_asked == ["portal.internal"]
    assert verdict.measurements["expires_first_host"] == "portal.internal"
    assert verdict.measurements["days_left"] == 20  # the origin's leaf, not the proxy's


# --- ip_family through a proxy ---------------------------------------------------------------


async def test_ip_family_chooses_the_proxys_address() -> None:
    resolve = table_resolver({PROXY_HOST: ["127.0.0.1"]})
    ctx = ProbeContext(
        http=HttpClientPool(backend=AsyncioBackend(resolve)),
        heartbeats=None,  # type: ignore[arg-type]
        resolve=resolve,
    )
    try:
        async with ForwardProxy() as proxy, HttpServer({"/": lambda _: Reply(200)}) as origin:
            via = f"http://{PROXY_HOST}:{proxy.port}"
            url = origin.url(host="localhost")  # resolved by the proxy, not by the probe
            ip4 = await get(ctx, url, proxy=via, ip_family="ip4")
            ip6 = await get(ctx, url, proxy=via, ip_family="ip6")
            fell_back = await get(ctx, url, proxy=via, ip_family="ip6", fallback=True)
    finally:
        await ctx.aclose()
    assert ip4.outcome is Outcome.OK, ip4.reason
    assert ip4.measurements["ip_family"] == "ip4"
    assert ip6.reason == f"proxy {via}: {PROXY_HOST} has no IPv6 address (ip_family: ip6)"
    assert fell_back.outcome is Outcome.OK, fell_back.reason
    assert fell_back.measurements["ip_fallback"] is True


def test_the_pool_key_separates_family_server_name_and_proxy() -> None:
    pool = HttpClientPool()
    url = "https://portal.test/"
    specs = [
        HttpSpec(url=url),
        HttpSpec(url=url, ip_family="ip4"),
        HttpSpec(url=url, server_name="other.test"),
        HttpSpec(url=url, proxy="http://proxy.test:3128"),
    ]
    leased = [pool.lease(spec, url, spec.proxy) for spec in specs]
    assert pool.origins == 4
    assert len({id(kept.transport) for kept in leased}) == 4
    again = pool.lease(HttpSpec(url=url, ip_family="ip4"), url)
    assert again is leased[1]


# --- header rules and TLS on scenario steps --------------------------------------------------


async def test_header_rules_and_tls_options_work_on_scenario_steps(
    ctx: ProbeContext, pki: Pki
) -> None:
    context = pki.server_context("portal.internal")
    asked = _recording_sni(context)
    routes = {
        "/login": lambda _: Reply(200, "ok", {"x-frame-options": "DENY"}),
        "/area": lambda _: Reply(200, "ok", {"server": "Apache/2.2.15"}),
    }
    async with HttpServer(routes, context) as server:
        step: dict[str, Any] = {"ca_bundle": pki.ca_bundle, "server_name": "portal.internal"}
        spec = ScenarioSpec.model_validate(
            {
                "steps": [
                    {
                        "name": "login",
                        "url": server.url("/login"),
                        "expect_headers": {"X-Frame-Options": "DENY"},
                        **step,
                    },
                    {
                        "name": "area",
                        "url": server.url("/area"),
                        "forbid_headers": {"Server": r"Apache/2\.[0-2]\."},
                        "min_version": "TLSv1.2",
                        **step,
                    },
                ]
            }
        )
        verdict = await scenario.probe(spec, 3.0, ctx, check_id="svc/flow")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == (
        "step 'area': header Server matches forbidden /Apache/2\\.[0-2]\\./ ('Apache/2.2.15')"
    )
    assert verdict.measurements["steps_passed"] == 1
    assert verdict.measurements["login.expires_first_host"] == "portal.internal"
    assert isinstance(verdict.measurements["login.days_left"], int)
    assert asked[0] == "portal.internal"
