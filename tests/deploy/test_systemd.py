"""The systemd unit passes `systemd-analyze verify`, and `vigia run` speaks sd_notify."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.sdnotify import Notifier

UNITS_DIR = Path(__file__).parents[2] / "deploy" / "systemd"
UNIT = UNITS_DIR / "vigia.service"
PROBE_UNIT = UNITS_DIR / "vigia-probe@.service"
# a template is verified as one of its instances: the instance name is a location
INSTALLED_AS = {UNIT: "vigia.service", PROBE_UNIT: "vigia-probe@porto.service"}
every_unit = pytest.mark.parametrize("unit", [UNIT, PROBE_UNIT], ids=lambda u: u.name)
MAX_EXPOSURE = 3.0  # systemd-analyze security: "OK" is below 4.0; the unit measures 1.9
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed")


def _installed_unit(tmp_path: Path, source: Path = UNIT) -> Path:
    """The unit as installed, with ExecStart pointing at this checkout's vigia."""
    vigia = Path(sys.executable).with_name("vigia")
    unit = tmp_path / INSTALLED_AS[source]
    unit.write_text(source.read_text().replace("/opt/vigia/bin/vigia", str(vigia)))
    return unit


@needs_analyze
@every_unit
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, unit: Path) -> None:
    installed = _installed_unit(tmp_path, unit)
    done = subprocess.run([str(ANALYZE), "verify", str(installed)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert installed.name not in done.stderr, done.stderr  # warnings name the unit


@needs_analyze
@every_unit
def test_unit_exposure_stays_low(tmp_path: Path, unit: Path) -> None:
    done = subprocess.run(
        [str(ANALYZE), "security", "--offline=yes", str(_installed_unit(tmp_path, unit))],
        capture_output=True,
        text=True,
    )
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)
    assert level is not None, done.stdout[-500:]
    assert float(level.group(1)) <= MAX_EXPOSURE


@every_unit
def test_unit_grants_only_cap_net_raw_and_pings_a_watchdog(unit: Path) -> None:
    text = unit.read_text()
    assert re.search(r"^AmbientCapabilities=CAP_NET_RAW$", text, re.M)
    assert re.search(r"^CapabilityBoundingSet=CAP_NET_RAW$", text, re.M)
    for line in ("Type=notify", "NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory="):
        assert line in text
    assert re.search(r"^WatchdogSec=\d+", text, re.M)
    assert re.search(r"^ExecReload=.*-HUP", text, re.M)


def _listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    return sock


def _messages(sock: socket.socket, until: float) -> list[str]:
    seen: list[str] = []
    while time.monotonic() < until:
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return seen


def test_notifier_does_nothing_without_systemd() -> None:
    notifier = Notifier(environ={})
    assert not notifier.enabled and notifier.watchdog_seconds is None
    notifier.notify("READY=1")  # no socket, no error


def test_watchdog_period_is_read_only_for_this_process() -> None:
    assert Notifier(environ={"WATCHDOG_USEC": "2000000"}).watchdog_seconds == 2.0
    other = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(environ=other).watchdog_seconds is None


@pytest.mark.slow
def test_vigia_run_says_ready_pings_the_watchdog_and_says_stopping(tmp_path: Path) -> None:
    with socket.socket() as probe_target:
        probe_target.bind(("127.0.0.1", 0))
        probe_target.listen()
        port = probe_target.getsockname()[1]
        catalog = tmp_path / "services.yaml"
        catalog.write_text(
            "version: 1\nservices:\n  - id: one\n    name: One\n    macro_service: formacao\n"
            "    tier: bronze\n    owner: X\n    checks:\n"
            f"      - tcp: {{host: 127.0.0.1, port: {port}}}\n"
        )
        sock = _listener(tmp_path / "notify.sock")
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
        env["WATCHDOG_USEC"] = "400000"
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            listen = f"127.0.0.1:{free.getsockname()[1]}"
        argv = [sys.executable, "-m", "agent.cli", "run", "--catalog", str(catalog)]
        argv += ["--db", str(tmp_path / "v.db"), "--listen", listen]
        agent = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
        try:
            first: list[str] = []
            deadline = time.monotonic() + 30
            while "READY=1" not in first and time.monotonic() < deadline:
                first += _messages(sock, time.monotonic() + 0.5)
            assert "READY=1" in first
            pings = _messages(sock, time.monotonic() + 1.5).count("WATCHDOG=1")
            assert pings >= 3  # every 0.2 s for a 0.4 s watchdog
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=30) == 0
            assert "STOPPING=1" in _messages(sock, time.monotonic() + 0.5)
        finally:
            agent.kill()
            agent.wait()
            sock.close()


@pytest.mark.slow
def test_vigia_probe_says_ready_at_once_and_pings_the_watchdog_while_the_core_is_away(
    tmp_path: Path,
) -> None:
    with socket.socket() as closed:  # a core address where nothing answers
        closed.bind(("127.0.0.1", 0))
        core = f"http://127.0.0.1:{closed.getsockname()[1]}"
    sock = _listener(tmp_path / "notify.sock")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    env["WATCHDOG_USEC"] = "400000"
    env["VIGIA_PROBE_TOKEN"] = "t0ken-never-printed"
    argv = [sys.executable, "-m", "agent.cli", "probe", "--location", "porto", "--core", core]
    argv += ["--spool", str(tmp_path / "spool.db")]
    worker = subprocess.Popen(argv, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        first: list[str] = []
        deadline = time.monotonic() + 30  # the interpreter's start on a loaded machine
        while "READY=1" not in first and time.monotonic() < deadline:
            first += _messages(sock, time.monotonic() + 0.5)
        assert "READY=1" in first, "waiting for the core must not hold back READY"
        first += _messages(sock, time.monotonic() + 1.5)
        assert first.count("WATCHDOG=1") >= 4  # every 0.2 s for a 0.4 s watchdog
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert "STOPPING=1" in first + _messages(sock, time.monotonic() + 0.5)
        assert worker.stderr is not None
        assert b"t0ken-never-printed" not in worker.stderr.read()
    finally:
        worker.kill()
        worker.wait()
        if worker.stderr is not None:
            worker.stderr.close()
        sock.close()
