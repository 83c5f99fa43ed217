"""CPU cost of one HTTP probe: vigia's checks.http.probe against a bare shared httpx client,
each with a new connection per probe (vigia's default, blackbox_exporter's way) and with
kept-alive connections (vigia's `reuse_connection: true`).

    python bench/probe_cost.py [--probes 5000] [--concurrency 50] [--repeats 3] [--profile]

The target server runs in a separate process so its CPU is not counted; `time.process_time`
measures this process only. The contenders run in the same process, in an order that turns
round each repetition.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import platform
import pstats
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import estate_server
from checks.context import ProbeContext
from checks.http_clients import DEFAULT_LIMITS, HttpClientPool
from checks.runner import run_probe
from checks.specs import HttpSpec

# The target: estate_server's minimal keep-alive HTTP/1.1 responder, in its own process.


# --- the contenders ------------------------------------------------------------------------


async def _gather(probes: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> None:
    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    share, extra = divmod(probes, concurrency)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))


async def vigia(
    url: str, probes: int, concurrency: int, reuse: bool = False
) -> tuple[float, float]:
    ctx = ProbeContext(http=HttpClientPool(), heartbeats=None)  # type: ignore[arg-type]
    spec = HttpSpec(url=url, json={"$.status": "UP"}, reuse_connection=reuse)
    failures = 0

    async def one() -> None:
        nonlocal failures
        result = await run_probe("bench/http", "http", spec, 10.0, ctx)
        failures += result.outcome != "ok"  # type: ignore[attr-defined]

    try:
        return await _measure(probes, concurrency, one, lambda: failures)
    finally:
        await ctx.aclose()


async def vigia_reuse(url: str, probes: int, concurrency: int) -> tuple[float, float]:
    return await vigia(url, probes, concurrency, reuse=True)


# no connection kept: every request opens its own, like a probe by default
FRESH_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=0)


async def bare_fresh(url: str, probes: int, concurrency: int) -> tuple[float, float]:
    return await bare(url, probes, concurrency, FRESH_LIMITS)


async def bare(
    url: str, probes: int, concurrency: int, limits: httpx.Limits = DEFAULT_LIMITS
) -> tuple[float, float]:
    client = httpx.AsyncClient(limits=limits, timeout=10.0)
    failures = 0

    async def one() -> None:
        nonlocal failures
        response = await client.get(url)
        failures += response.status_code != 200

    try:
        return await _measure(probes, concurrency, one, lambda: failures)
    finally:
        await client.aclose()


async def _measure(
    probes: int, concurrency: int, one: Callable[[], Awaitable[None]], failed: Callable[[], int]
) -> tuple[float, float]:
    await _gather(concurrency, concurrency, one)  # warm: open the keep-alive connections
    cpu, wall = time.process_time(), time.perf_counter()
    await _gather(probes, concurrency, one)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if failed():
        raise SystemExit(f"{failed()} probes failed: the benchmark is not measuring success")
    return cpu / probes, wall


# --- driver --------------------------------------------------------------------------------


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    cores = len(__import__("os").sched_getaffinity(0))
    return f"{cores} cores ({model}), Python {platform.python_version()}, httpx {httpx.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one vigia run")
    args = parser.parse_args()

    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    url = f"{estate_server.base_urls([sock])[0]}/health"
    server = estate_server.start([sock])
    try:
        if args.profile:
            _profile(url, args.probes, args.concurrency)
        else:
            _compare(url, args.probes, args.concurrency, args.repeats)
    finally:
        server.terminate()
        server.join()


def _compare(url: str, probes: int, concurrency: int, repeats: int) -> None:
    contenders = {
        "vigia probe (new connection)": vigia,
        "bare httpx (new connection)": bare_fresh,
        "vigia probe (reuse_connection)": vigia_reuse,
        "bare httpx (kept alive)": bare,
    }
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    print(f"{machine()}; {probes} probes at concurrency {concurrency}\n")
    print("| rep | contender | CPU ms/probe | wall s |\n|---|---|---|---|")
    for rep in range(repeats):
        order = list(contenders) if rep % 2 == 0 else list(reversed(contenders))
        for name in order:
            per_probe, wall = asyncio.run(contenders[name](url, probes, concurrency))
            cpu[name].append(per_probe)
            print(f"| {rep + 1} | {name} | {per_probe * 1000:.3f} | {wall:.2f} |")
    pairs = (("new connection", "new connection"), ("reuse_connection", "kept alive"))
    for ours_mode, theirs_mode in pairs:
        ours = statistics.median(cpu[f"vigia probe ({ours_mode})"])
        theirs = statistics.median(cpu[f"bare httpx ({theirs_mode})"])
        print(
            f"\n{ours_mode}: median CPU per probe vigia {ours * 1000:.3f} ms, bare httpx "
            f"{theirs * 1000:.3f} ms, vigia overhead {(ours / theirs - 1) * 100:+.1f} % "
            "(target < 25 %)"
        )


def _profile(url: str, probes: int, concurrency: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(asyncio.run, vigia(url, probes, concurrency))
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
