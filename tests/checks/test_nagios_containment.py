"""Plugins contained (issue #12, defect 8): a plugin whose child escapes its process group
(`setsid`) must neither hold the probe until the timeout nor leak a process and two pipes per
run. Before, every run read the pipes until the escaped child closed them: the probe failed at
its timeout and the child and the agent's pipe ends stayed, EMFILE within hours."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from checks import nagios
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import NagiosSpec

PLUGINS = Path(__file__).parent / "plugins"
RUNS = 30


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext.create()
    yield context
    await context.aclose()


async def _run(ctx: ProbeContext, plugin: str, timeout: float) -> Verdict:
    spec = NagiosSpec(command=[str(PLUGINS / plugin)])
    return await nagios.probe(spec, timeout, ctx, check_id="svc/nagios")


def _marked_processes() -> int:
    """Processes of any plugin run still alive, wherever they were reparented, after the
    grace a SIGKILL needs to land (a child killed mid-exec dies a moment later)."""
    deadline = time.monotonic() + 2.0
    while (found := _marked_now()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _marked_now() -> int:
    found = 0
    for proc in psutil.process_iter():
        try:
            found += nagios.RUN_MARK in proc.environ()
        except (psutil.Error, OSError):
            continue
    return found


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_an_escaped_child_neither_holds_the_probe_nor_leaks(ctx: ProbeContext) -> None:
    await _run(ctx, "escape.sh", 5)  # warm up: the loop's own fds exist before counting
    fds_before = _open_fds()
    for _ in range(RUNS):
        started = time.monotonic()
        verdict = await _run(ctx, "escape.sh", 5)
        assert time.monotonic() - started < 2.0
        assert verdict.outcome is Outcome.OK, verdict.reason
        assert verdict.measurements["output"] == "OK - escaped child left behind"
    assert _open_fds() <= fds_before
    assert _marked_processes() == 0


async def test_a_hanging_plugin_and_its_escaped_child_are_all_killed(ctx: ProbeContext) -> None:
    fds_before = _open_fds()
    started = time.monotonic()
    verdict = await _run(ctx, "escape_hang.sh", 0.5)
    assert time.monotonic() - started < 3.0
    assert verdict.outcome is Outcome.FAIL and "killed after 0.5s" in verdict.reason
    assert _open_fds() <= fds_before
    assert _marked_processes() == 0
