"""Host checks on the agent's own machine (psutil): cpu, memory, disk, a process, a port.

psutil calls read /proc and can be slow on a loaded host (cpu_percent sleeps for its
interval), so each runs in a thread and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

import psutil

from checks.context import ProbeContext
from checks.result import Measurement, Verdict
from checks.specs import HostSpec

_CPU_SAMPLE_MAX = 1.0  # seconds cpu_percent samples for, at most


async def probe(spec: HostSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    try:
        async with asyncio.timeout(timeout):
            return await _RESOURCES[spec.resource](spec, timeout)
    except TimeoutError:
        return Verdict.fail(f"host {spec.resource} check did not finish within {timeout:g}s")


async def _cpu(spec: HostSpec, timeout: float) -> Verdict:
    # Sample over part of the budget: a short window is noisy, a long one eats the timeout.
    interval = min(_CPU_SAMPLE_MAX, timeout / 2)
    used = await asyncio.to_thread(psutil.cpu_percent, interval)
    return judge_percent(spec, "cpu", float(used))


async def _memory(spec: HostSpec, timeout: float) -> Verdict:
    memory = await asyncio.to_thread(psutil.virtual_memory)
    return judge_percent(spec, "memory", float(memory.percent), total_bytes=int(memory.total))


async def _disk(spec: HostSpec, timeout: float) -> Verdict:
    try:
        usage = await asyncio.to_thread(psutil.disk_usage, spec.path)
    except FileNotFoundError:
        return Verdict.fail(f"disk path {spec.path} does not exist")
    except OSError as exc:
        return Verdict.fail(f"disk path {spec.path} unreadable: {exc.strerror or exc}")
    return judge_percent(
        spec,
        f"disk {spec.path}",
        float(usage.percent),
        total_bytes=int(usage.total),
        free_bytes=int(usage.free),
    )


def judge_percent(spec: HostSpec, what: str, used: float, **extra: Measurement) -> Verdict:
    """Above crit_percent: fail; above warn_percent: degraded; limits themselves are ok."""
    measurements: dict[str, Measurement] = {"used_percent": used, **extra}
    if spec.crit_percent is not None and used > spec.crit_percent:
        return Verdict.fail(
            f"{what} {used:.1f}% used (crit {spec.crit_percent:g}%)", **measurements
        )
    if spec.warn_percent is not None and used > spec.warn_percent:
        reason = f"{what} {used:.1f}% used (warn {spec.warn_percent:g}%)"
        return Verdict.degraded(reason, **measurements)
    return Verdict.ok(**measurements)


async def _process(spec: HostSpec, timeout: float) -> Verdict:
    name = spec.process or ""
    count = await asyncio.to_thread(count_processes, name)
    if count == 0:
        return Verdict.fail(f"no process named {name} is running", process_count=0)
    return Verdict.ok(process_count=count)


def count_processes(name: str) -> int:
    """Processes whose name, or executable's base name, is `name`.

    Linux truncates process names to 15 characters, so long names are matched on the
    executable too.
    """
    count = 0
    for process in psutil.process_iter(["name", "exe"]):
        info = process.info
        exe = info.get("exe") or ""
        if name in (info.get("name"), os.path.basename(exe)):
            count += 1
    return count


async def _port(spec: HostSpec, timeout: float) -> Verdict:
    port = spec.port or 0
    listening = await asyncio.to_thread(listening_in_table, port)
    method = "table"
    if listening is None:  # the socket table needs privileges here: try the port itself
        listening = await connects(port, timeout)
        method = "connect"
    if not listening:
        return Verdict.fail(
            f"nothing listening on local port {port}", listening=False, method=method
        )
    return Verdict.ok(listening=True, method=method)


def listening_in_table(port: int) -> bool | None:
    """Whether a TCP socket listens on `port`; None when the OS will not show the table."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    return any(
        conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
        for conn in connections
    )


async def connects(port: int, timeout: float) -> bool:
    """Whether a TCP connect to 127.0.0.1:port succeeds (a listener bound to loopback/any)."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


_RESOURCES = {
    "cpu": _cpu,
    "memory": _memory,
    "disk": _disk,
    "process": _process,
    "port": _port,
}
