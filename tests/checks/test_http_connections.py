"""A probe opens its own connection by default, as a new visitor and blackbox_exporter do;
`reuse_connection: true` keeps connections alive between runs, retries once on a kept-alive
connection that died before any answer, and the keep-alive pools are bounded (#17 defect 8,
#12)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from agent.catalog.loader import load_text
from checks import http
from checks.context import ProbeContext
from checks.http_clients import HttpClientPool
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec
from tests.checks.loopback import HttpServer, RawServer, Reply

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def run(ctx: ProbeContext, **spec: Any) -> Verdict:
    return await http.probe(HttpSpec(**spec), 1.0, ctx, check_id="svc/http")


async def test_a_listener_that_stopped_accepting_is_down_by_default_and_hidden_by_reuse(
    ctx: ProbeContext,
) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as server:
        assert (await run(ctx, url=server.url())).outcome is Outcome.OK
        kept = await run(ctx, url=server.url(), reuse_connection=True)
        assert kept.outcome is Outcome.OK
        server.stop_accepting()  # the old connection still answers, no new one gets in
        fresh = await run(ctx, url=server.url())
        assert fresh.outcome is Outcome.FAIL and "refused" in fresh.reason
        hidden = await run(ctx, url=server.url(), reuse_connection=True)
        assert hidden.outcome is Outcome.OK and hidden.measurements["connection"] == "reused"


async def test_a_kept_alive_connection_closed_as_the_request_left_is_retried_once(
    ctx: ProbeContext,
) -> None:
    async def answers_once_then_hangs_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request on this connection:
        writer.close()  # closed without a byte of answer, the keep-alive race

    async with RawServer(answers_once_then_hangs_up) as server:
        url = f"http://127.0.0.1:{server.port}/"
        first = await run(ctx, url=url, reuse_connection=True)
        assert first.outcome is Outcome.OK and first.measurements["connection"] == "new"
        second = await run(ctx, url=url, reuse_connection=True)
        assert second.outcome is Outcome.OK, second.reason
        assert second.measurements["connection"] == "retried"
        assert server.connections == 2


async def test_a_post_is_not_repeated_on_a_new_connection(ctx: ProbeContext) -> None:
    async def answers_once_then_hangs_up(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async with RawServer(answers_once_then_hangs_up) as server:
        url = f"http://127.0.0.1:{server.port}/"
        assert (await run(ctx, url=url, method="POST", reuse_connection=True)).outcome is Outcome.OK
        again = await run(ctx, url=url, method="POST", reuse_connection=True)
        assert again.outcome is Outcome.FAIL and server.connections == 1


async def test_a_server_that_closes_after_each_answer_gives_no_false_failure(
    ctx: ProbeContext,
) -> None:
    async def one_answer_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        writer.close()

    async with RawServer(one_answer_per_connection) as server:
        url = f"http://127.0.0.1:{server.port}/"
        for reuse in (False, True):
            for _ in range(5):
                verdict = await run(ctx, url=url, reuse_connection=reuse)
                assert verdict.outcome is Outcome.OK, verdict.reason
                await asyncio.sleep(0.01)


async def test_keep_alive_pools_are_capped_and_the_evicted_one_is_closed() -> None:
    pool = HttpClientPool(max_origins=2)
    try:
        spec = HttpSpec(url="http://a.invalid/", reuse_connection=True)
        held = [pool.lease(spec, f"http://h{i}.invalid/") for i in range(3)]
        for kept in held:
            await pool.release(kept)
        await asyncio.sleep(0)  # the eviction's close runs on the loop
        assert pool.origins == 2
        assert held[0].evicted and not held[1].evicted and not held[2].evicted
        again = pool.lease(spec, "http://h0.invalid/")  # a new pool, not the closed one
        assert again is not held[0]
        await pool.release(again)
    finally:
        await pool.aclose()


async def test_a_pool_evicted_while_a_run_holds_it_closes_when_that_run_ends() -> None:
    pool = HttpClientPool(max_origins=1)
    try:
        spec = HttpSpec(url="http://a.invalid/", reuse_connection=True)
        busy = pool.lease(spec, "http://busy.invalid/")
        other = pool.lease(spec, "http://other.invalid/")  # evicts `busy`, still in use
        assert busy.evicted and busy.users == 1
        await pool.release(busy)
        assert busy.users == 0
        await pool.release(other)
    finally:
        await pool.aclose()


async def test_a_kept_alive_connection_is_closed_by_its_expiry_with_no_next_request() -> None:
    """A connection idle past keepalive_expiry is closed by the pool's sweep, not held until a
    request to its origin comes (a check with a longer interval, or removed: never)."""
    closed = asyncio.Event()

    async def answer_then_wait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        if await reader.read() == b"":  # the client's FIN: the connection was let go
            closed.set()

    limits = httpx.Limits(max_keepalive_connections=10, keepalive_expiry=0.2)
    pool = HttpClientPool(limits=limits, sweep_every=0.05)
    ctx = ProbeContext(http=pool, heartbeats=None)  # type: ignore[arg-type]
    try:
        async with RawServer(answer_then_wait) as server:
            url = f"http://127.0.0.1:{server.port}/"
            verdict = await run(ctx, url=url, reuse_connection=True)
            assert verdict.outcome is Outcome.OK, verdict.reason
            await asyncio.sleep(0.1)
            assert not closed.is_set()  # within its expiry: kept for the next probe
            await asyncio.wait_for(closed.wait(), 1.0)
            assert pool.origins == 1  # the origin's pool stays; its idle connection went
    finally:
        await pool.aclose()


CATALOG = """\
version: 1
defaults: {{interval: 1m, timeout: 5s{defaults}}}
tiers: {{bronze: {{{tier}}}}}
services:
  - id: portal
    name: Portal
    macro_service: comunicacoes
    tier: bronze
{service}    checks:
      - http: {{url: "http://127.0.0.1:1/"{check}}}
"""


@pytest.mark.parametrize(
    ("defaults", "tier", "service", "check", "expected"),
    [
        ("", "", "", "", False),
        (", reuse_connection: true", "", "", "", True),
        (", reuse_connection: true", "reuse_connection: false", "", "", False),
        ("", "reuse_connection: true", "    reuse_connection: false\n", "", False),
        ("", "", "    reuse_connection: false\n", ", reuse_connection: true", True),
    ],
)
def test_reuse_connection_is_inherited_defaults_tier_service_check(
    defaults: str, tier: str, service: str, check: str, expected: bool
) -> None:
    text = CATALOG.format(defaults=defaults, tier=tier, service=service, check=check)
    spec = load_text(text).by_id["portal"].checks[0].spec
    assert isinstance(spec, HttpSpec) and spec.reuse_connection is expected
