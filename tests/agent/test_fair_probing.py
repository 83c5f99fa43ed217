"""Thousands of probes hanging on an unreachable network next to healthy platina checks."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Iterator
from datetime import datetime

import pytest

from agent.catalog.loader import load_text
from agent.catalog.model import Catalog, Check
from agent.scheduler import ProbeScheduler
from checks.clock import SystemClock
from checks.specs import TcpSpec

pytestmark = pytest.mark.slow  # thousands of hung probes for tens of seconds

HANGING = 2_000
INTERVAL = 2.0


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A listener on 127.0.0.2 that never accepts: once its backlog is full the kernel drops
    every SYN, so a connect hangs until its timeout, as to a partitioned network."""
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.listen(0)
    fillers = []
    for _ in range(4):  # fill the backlog
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(sock.getsockname())
        fillers.append(filler)
    yield sock.getsockname()[1]
    for filler in fillers:
        filler.close()
    sock.close()


def _catalog(
    hang_port: int, ok_port: int, tier: str = "platina", ok_host: str = "127.0.0.1"
) -> Catalog:
    hanging = [
        f"""  - id: h{i}
    name: H{i}
    macro_service: formacao
    tier: bronze
    interval: 2s
    timeout: 1s
    checks: [{{tcp: {{host: 127.0.0.2, port: {hang_port}}}}}]"""
        for i in range(HANGING)
    ]
    healthy = [
        f"""  - id: p{i}
    name: P{i}
    macro_service: formacao
    tier: {tier}
    interval: 2s
    timeout: 1s
    checks: [{{tcp: {{host: {ok_host}, port: {ok_port}}}}}]"""
        for i in range(2)
    ]
    return load_text("version: 1\nservices:\n" + "\n".join(hanging + healthy) + "\n")


async def test_healthy_platina_checks_keep_their_cadence_while_2000_probes_hang(
    blackhole: int,
) -> None:
    scheduler, results, began = await _run_partition(blackhole, "platina")
    for check_id, at in results.items():
        gaps = [b - a for a, b in zip([began, *at], at, strict=False)]
        # every result within one interval of its due one: the gap never reaches 2 intervals
        assert len(at) >= 6 and max(gaps) < 2 * INTERVAL, (check_id, gaps)
    assert scheduler.stats.shortened_total > 0  # the timed-out host's probes were cut short


async def test_healthy_hosts_checks_of_any_tier_keep_their_cadence_once_the_hung_host_is_suspect(
    blackhole: int,
) -> None:
    _scheduler, results, began = await _run_partition(blackhole, "bronze")
    for check_id, at in results.items():
        settled = [t for t in at if t - began > 2 * INTERVAL]  # the first round is unknown
        gaps = [b - a for a, b in itertools.pairwise(settled)]
        assert len(settled) >= 4 and max(gaps) < 2 * INTERVAL, (check_id, at)


async def test_platina_checks_behind_the_same_host_cap_as_2000_hung_probes_keep_their_cadence(
    blackhole: int,
) -> None:
    """One host, one hung service and a healthy platina one: the host's cap (16) is full of
    hung probes, yet the platina checks get the next free host slot every round."""
    # 16 host slots x 14 s of shortened 0.5 s timeouts: ~400 hung probes, the cap always full
    _scheduler, results, began = await _run_partition(
        blackhole, "platina", "127.0.0.2", max_per_host=16, min_timeouts=300
    )
    for check_id, at in results.items():
        gaps = [b - a for a, b in zip([began, *at], at, strict=False)]
        assert len(at) >= 6 and max(gaps) < 2 * INTERVAL, (check_id, gaps)


async def _run_partition(
    blackhole: int,
    tier: str,
    ok_host: str = "127.0.0.1",
    max_per_host: int = 256,
    min_timeouts: int = 1_000,
) -> tuple[ProbeScheduler, dict[str, list[float]], float]:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, ok_host, 0)
    ok_port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    results: dict[str, list[float]] = {"p0/tcp": [], "p1/tcp": []}
    timeouts = 0

    async def job(check: Check, due: datetime) -> None:  # a real TCP connect, like the probe
        nonlocal timeouts
        assert isinstance(check.spec, TcpSpec)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(check.spec.host, check.spec.port), check.timeout
            )
        except TimeoutError:
            timeouts += 1
            return
        writer.close()
        if check.id in results:
            results[check.id].append(loop.time())

    scheduler = ProbeScheduler(job, SystemClock(), max_in_flight=256, max_per_host=max_per_host)
    catalog = _catalog(blackhole, ok_port, tier, ok_host)
    began = loop.time()
    scheduler.start(catalog)
    await asyncio.sleep(14)
    await scheduler.shutdown(grace=0.1)
    server.close()
    await server.wait_closed()
    assert timeouts > min_timeouts  # the partition was real: the hanging probes timed out
    return scheduler, results, began
