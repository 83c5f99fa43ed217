"""Nagios plugin checks: a real monitoring-plugins binary and small script plugins."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checks import nagios
from checks.context import ProbeContext
from checks.result import Outcome, Verdict
from checks.specs import NagiosSpec

PLUGINS = Path(__file__).parent / "plugins"
CHECK_TCP = Path("/usr/lib/nagios/plugins/check_tcp")
needs_check_tcp = pytest.mark.skipif(
    not CHECK_TCP.exists(),
    reason=f"{CHECK_TCP} absent: apt-get install -y monitoring-plugins-basic",
)


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext.create()
    yield context
    await context.aclose()


async def run(ctx: ProbeContext, *argv: str, timeout: float = 5, **env: str) -> Verdict:
    spec = NagiosSpec(command=list(argv), env=env)
    return await nagios.probe(spec, timeout, ctx, check_id="svc/nagios")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@needs_check_tcp
async def test_real_check_tcp_is_ok_on_a_listening_port(ctx: ProbeContext) -> None:
    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        verdict = await run(ctx, str(CHECK_TCP), "-H", "127.0.0.1", "-p", str(port))
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert str(verdict.measurements["output"]).startswith("TCP OK")
    seconds = verdict.measurements["perf_time"]
    assert isinstance(seconds, float) and 0 <= seconds < 5


@needs_check_tcp
async def test_real_check_tcp_is_critical_on_a_closed_port(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(CHECK_TCP), "-H", "127.0.0.1", "-p", str(closed_port()))
    assert verdict.outcome is Outcome.FAIL
    assert "refused" in verdict.reason.lower()
    assert verdict.measurements["exit_code"] == 2


async def test_warning_is_degraded_with_perfdata_from_all_lines(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(PLUGINS / "warning.sh"))
    assert verdict.outcome is Outcome.DEGRADED
    assert verdict.reason == "DISK WARNING - free space: / 812 MB (9%)"
    assert verdict.measurements["output"] == verdict.reason
    assert verdict.measurements["perf_/ free"] == 812 * 1024**2
    assert verdict.measurements["perf_time"] == pytest.approx(0.012)
    assert verdict.measurements["perf_load avg"] == 0.5
    assert verdict.measurements["perf_inodes"] == 91.0


async def test_unknown_exit_is_unknown_with_the_plugin_text(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(PLUGINS / "unknown.sh"))
    assert verdict.outcome is Outcome.UNKNOWN
    assert verdict.reason == "UNKNOWN - cannot read /proc/foo"


async def test_exit_code_outside_the_contract_is_unknown(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(PLUGINS / "exit7.sh"))
    assert verdict.outcome is Outcome.UNKNOWN
    assert verdict.reason == "plugin exited with code 7 (not 0-3): something odd"


async def test_missing_executable_is_unknown(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(PLUGINS / "no-such-plugin"))
    assert verdict.outcome is Outcome.UNKNOWN
    assert verdict.reason.startswith("plugin not found: ")


async def test_hanging_plugin_and_its_child_are_killed_at_the_timeout(
    ctx: ProbeContext, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    verdict = await run(ctx, str(PLUGINS / "hang.sh"), str(pid_file), timeout=0.5)
    assert time.monotonic() - started < 2.5
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "plugin killed after 0.5s"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 2
    while _alive(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _alive(child), "the plugin's own child survived the timeout"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_garbage_perfdata_still_gives_a_verdict(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(PLUGINS / "garbage.sh"))
    assert verdict.outcome is Outcome.OK
    perf = {k: v for k, v in verdict.measurements.items() if k.startswith("perf_")}
    assert perf == {"perf_good": 4.0}


async def test_huge_output_is_capped_without_blocking_the_plugin(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(PLUGINS / "big.sh"), timeout=5)
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements["output"] == "OK - big"
    assert verdict.measurements["perf_n"] == 1.0


async def test_plugin_gets_a_minimal_environment_plus_its_own(
    ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIA_SECRET", "agent-only")
    verdict = await run(ctx, str(PLUGINS / "env.sh"), EXTRA="given")
    assert verdict.measurements["output"] == "OK - LANG=C VIGIA_SECRET=unset EXTRA=given"


async def test_stderr_explains_a_plugin_silent_on_stdout(ctx: ProbeContext) -> None:
    verdict = await run(ctx, str(PLUGINS / "stderr.sh"))
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "check_thing: connection refused"


def test_killed_by_a_signal_is_unknown_and_names_it() -> None:
    verdict = nagios.judge(-11, "")
    assert verdict.outcome is Outcome.UNKNOWN
    assert verdict.reason.startswith("plugin killed by SIGSEGV")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time=0.001234s;1;2;0;10 size=2KB", {"time": 0.001234, "size": 2048.0}),
        ("'it''s quoted'=5", {"it's quoted": 5.0}),
        ("rta=250us pl=0% c=17c", {"rta": 0.00025, "pl": 0.0, "c": 17.0}),
        ("big=1.5GB small=3B t=-2.5ms", {"big": 1.5 * 1024**3, "small": 3.0, "t": -0.0025}),
        ("eu=0,5s", {"eu": 0.5}),
        ("u=U x=inf y=1e999", {}),
    ],
)
def test_perfdata_values_are_in_base_units(text: str, expected: dict[str, float]) -> None:
    assert nagios.parse_perfdata(text) == pytest.approx(expected)


@given(st.text())
def test_perfdata_parser_never_raises_on_any_text(text: str) -> None:
    result = nagios.parse_perfdata(text)
    assert isinstance(result, dict)
    assert all(isinstance(value, float) for value in result.values())


@given(st.integers(min_value=-300, max_value=300), st.text(max_size=200))
def test_judge_gives_a_verdict_for_any_code_and_output(code: int, output: str) -> None:
    verdict = nagios.judge(code, output)
    assert verdict.outcome in set(Outcome)
    assert (verdict.outcome is Outcome.OK) == (code == 0)
