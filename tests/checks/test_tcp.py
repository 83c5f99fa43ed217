"""TCP probe against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from checks import tcp
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import TcpSpec
from tests.checks.loopback import RawServer, drip, never_answers, ticking

TIMEOUT = 1.0


async def check(ctx: ProbeContext, port: int, **spec: Any) -> Verdict:
    return await tcp.probe(
        TcpSpec(host="127.0.0.1", port=port, **spec), TIMEOUT, ctx, check_id="s/t"
    )


def greets(banner: bytes, then_close: bool = False) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        await writer.drain()
        if not then_close:
            await reader.read(1)

    return handler


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(b"echo: " + data)
        await writer.drain()


async def test_open_port_is_ok_with_connect_time(ctx: ProbeContext) -> None:
    async with RawServer(never_answers) as server:
        verdict = await check(ctx, server.port)
    assert verdict.outcome is Outcome.OK
    assert 0 <= verdict.measurements["connect_time"] < TIMEOUT  # type: ignore[operator]


async def test_expected_banner_is_ok(ctx: ProbeContext) -> None:
    async with RawServer(greets(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        verdict = await check(ctx, server.port, expect="SSH-2.0")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["bytes_received"] == 21


async def test_sent_line_gets_the_expected_answer(ctx: ProbeContext) -> None:
    async with RawServer(echo) as server:
        verdict = await check(ctx, server.port, send="PING\r\n", expect="echo: PING")
    assert verdict.outcome is Outcome.OK, verdict.reason


async def test_closed_port_is_refused(ctx: ProbeContext) -> None:
    async with RawServer(never_answers) as server:
        port = server.port
    assert (await check(ctx, port)).reason == "connection refused"


async def test_wrong_banner_fails_showing_what_was_received(ctx: ProbeContext) -> None:
    async with RawServer(greets(b"220 mail.example ESMTP\r\n")) as server:
        start = time.perf_counter()
        verdict = await check(ctx, server.port, expect="SSH-")
    assert verdict.reason == (
        "banner mismatch after 1s: expected 'SSH-', received '220 mail.example ESMTP\\r\\n'"
    )
    assert time.perf_counter() - start < TIMEOUT + 1


async def test_answer_cut_short_fails_as_truncated(ctx: ProbeContext) -> None:
    async with RawServer(greets(b"+OK POP3", then_close=True)) as server:
        verdict = await check(ctx, server.port, expect="+OK POP3 ready")
    assert (
        verdict.reason == "connection closed before '+OK POP3 ready' arrived (received '+OK POP3')"
    )


async def test_silent_server_times_out_and_loop_stays_responsive(ctx: ProbeContext) -> None:
    async with RawServer(never_answers) as server, ticking() as ticks:
        start = time.perf_counter()
        verdict = await check(ctx, server.port, send="HELLO\r\n", expect="OK")
        elapsed = time.perf_counter() - start
    assert verdict.reason == "timed out after 1s waiting for 'OK' (nothing received)"
    assert TIMEOUT - 0.05 <= elapsed < TIMEOUT + 1
    assert len(ticks) >= 10


async def test_dripping_banner_that_completes_in_time_is_ok(ctx: ProbeContext) -> None:
    async with RawServer(drip(b"220 ok\r\n", 0.02)) as server:
        verdict = await check(ctx, server.port, send="x", expect="220 ok")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["response_time"] > 0.05  # type: ignore[operator]
