"""Host checks against this machine: its own disk, processes and loopback ports."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest

from checks import host
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import HostSpec


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext.create()
    yield context
    await context.aclose()


async def check(ctx: ProbeContext, timeout: float = 5, **fields: Any) -> Verdict:
    return await host.probe(HostSpec(**fields), timeout, ctx, check_id="agent/host")


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_root_disk_above_a_zero_crit_fails(ctx: ProbeContext) -> None:
    verdict = await check(ctx, resource="disk", path="/", crit_percent=0.0)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("disk / ") and "(crit 0%)" in verdict.reason
    used = verdict.measurements["used_percent"]
    assert isinstance(used, float) and 0 < used <= 100


async def test_root_disk_under_a_full_crit_passes(ctx: ProbeContext) -> None:
    verdict = await check(ctx, resource="disk", path="/", crit_percent=100)
    assert verdict.outcome is Outcome.OK
    total, free = verdict.measurements["total_bytes"], verdict.measurements["free_bytes"]
    assert isinstance(total, int) and isinstance(free, int) and 0 <= free <= total


async def test_root_disk_above_warn_only_is_degraded(ctx: ProbeContext) -> None:
    verdict = await check(ctx, resource="disk", path="/", warn_percent=0.0, crit_percent=100)
    assert verdict.outcome is Outcome.DEGRADED
    assert "(warn 0%)" in verdict.reason


async def test_missing_disk_path_fails_naming_it(ctx: ProbeContext) -> None:
    verdict = await check(ctx, resource="disk", path="/no/such/mount/point")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "disk path /no/such/mount/point does not exist"


async def test_memory_is_measured_and_judged(ctx: ProbeContext) -> None:
    verdict = await check(ctx, resource="memory", crit_percent=0.0)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("memory ")
    assert verdict.measurements["total_bytes"] == psutil.virtual_memory().total


async def test_cpu_is_sampled_within_the_timeout(ctx: ProbeContext) -> None:
    verdict = await check(ctx, timeout=0.4, resource="cpu", crit_percent=100)
    assert verdict.outcome is Outcome.OK
    used = verdict.measurements["used_percent"]
    assert isinstance(used, float) and 0 <= used <= 100


async def test_own_process_is_found(ctx: ProbeContext) -> None:
    name = psutil.Process().name()
    verdict = await check(ctx, resource="process", process=name)
    assert verdict.outcome is Outcome.OK
    count = verdict.measurements["process_count"]
    assert isinstance(count, int) and count >= 1


async def test_absent_process_fails(ctx: ProbeContext) -> None:
    verdict = await check(ctx, resource="process", process="vigia-no-such-process")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "no process named vigia-no-such-process is running"


async def test_listening_port_is_ok(ctx: ProbeContext, listener: int) -> None:
    verdict = await check(ctx, resource="port", port=listener)
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements["listening"] is True


async def test_closed_port_fails(ctx: ProbeContext) -> None:
    port = closed_port()
    verdict = await check(ctx, resource="port", port=port)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == f"nothing listening on local port {port}"


@pytest.mark.parametrize("is_listening", [True, False])
async def test_port_falls_back_to_connecting_without_the_socket_table(
    ctx: ProbeContext, listener: int, monkeypatch: pytest.MonkeyPatch, is_listening: bool
) -> None:
    # Unprivileged agents on some systems get AccessDenied for the socket table; as root in
    # CI it is always readable, so the refusal is psutil's own error raised on purpose.
    def refuse(kind: str = "inet") -> list[Any]:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "net_connections", refuse)
    port = listener if is_listening else closed_port()
    verdict = await check(ctx, resource="port", port=port)
    assert verdict.measurements["method"] == "connect"
    assert (verdict.outcome is Outcome.OK) is is_listening
