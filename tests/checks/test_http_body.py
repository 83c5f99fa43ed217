"""The body is read only when a body condition needs it, up to `max_body_bytes`, and a breach
of that cap says so (#17 defect 5)."""

from __future__ import annotations

from typing import Any

from checks import http
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import HttpSpec
from tests.checks.loopback import HttpServer, Reply, endless

PAGE = "<html>" + "x" * (2 * 1024 * 1024) + "</html>"  # a 2 MiB page, over the 1 MiB default


async def run(ctx: ProbeContext, **spec: Any) -> Verdict:
    return await http.probe(HttpSpec(**spec), 2.0, ctx, check_id="svc/http")


async def test_a_large_page_without_a_body_condition_is_up_and_its_body_not_read(
    ctx: ProbeContext,
) -> None:
    async with HttpServer({"/": lambda _: Reply(200, PAGE)}) as server:
        verdict = await run(ctx, url=server.url())
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert "body_bytes" not in verdict.measurements


async def test_an_endless_body_without_a_body_condition_is_up(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, chunks=endless())}) as server:
        for reuse in (False, True):  # a kept-alive run drops the connection rather than read it
            verdict = await run(ctx, url=server.url(), reuse_connection=reuse)
            assert verdict.outcome is Outcome.OK, verdict.reason


async def test_with_a_body_condition_the_cap_applies_and_says_so(ctx: ProbeContext) -> None:
    async with HttpServer({"/": lambda _: Reply(200, PAGE)}) as server:
        capped = await run(ctx, url=server.url(), body_contains="</html>")
        raised = await run(
            ctx, url=server.url(), body_contains="</html>", max_body_bytes=4 * 1024 * 1024
        )
    assert capped.outcome is Outcome.FAIL
    assert capped.reason.startswith("body larger than 1048576 bytes")
    assert raised.outcome is Outcome.OK, raised.reason
    assert raised.measurements["body_bytes"] == len(PAGE)


async def test_a_small_body_is_drained_so_a_kept_alive_connection_serves_again(
    ctx: ProbeContext,
) -> None:
    async with HttpServer({"/": lambda _: Reply(200, "ok" * 100)}) as server:
        for _ in range(3):
            assert (await run(ctx, url=server.url(), reuse_connection=True)).outcome is Outcome.OK
        assert server.connections == 1
