"""End to end: `vigia run` as a subprocess against scripted loopback services.

Outages are scripted with wall-clock times; the agent's incidents and availability must match
the script within one probe interval, and a kill -9 mid-outage must leave one continued
incident with the silent gap reported as unknown time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.estate import ScriptedEstate

pytestmark = pytest.mark.slow

INTERVAL = 1.0
SLACK = 0.6  # scheduling and probe-duration jitter on a loaded 2-core machine
BROKEN = ["s503", "srefused", "shang", "sslow", "sbody"]
MODES = {"s503": "503", "srefused": "refuse", "shang": "hang", "sslow": "slow", "sbody": "body"}
PLATINA_PCN = {"healthy", "s503", "srefused"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _catalog(estate: ScriptedEstate, services: list[str]) -> str:
    lines = [
        "version: 1",
        "defaults: {interval: 1s, timeout: 800ms, confirm_down: 2, confirm_up: 2}",
        "services:",
    ]
    for sid in services:
        tier, pcn = ("platina", "true") if sid in PLATINA_PCN else ("ouro", "false")
        lines += [
            f"  - id: {sid}",
            f"    name: Service {sid}",
            "    macro_service: desenvolvimento-aplicacoes",
            f"    tier: {tier}",
            f"    pcn: {pcn}",
            "    interval: 1s",
            f"    checks: [{{http: {{url: '{estate.url(sid)}', body_contains: 'Seguranca'}}}}]",
        ]
    return "\n".join(lines) + "\n"


class AgentProcess:
    def __init__(self, catalog: Path, db: Path, config: Path | None = None) -> None:
        self.catalog, self.db, self.config = catalog, db, config
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> list[str]:
        config = ["--config", str(self.config)] if self.config else []
        return [
            sys.executable,
            "-m",
            "agent.cli",
            *config,
            "--catalog",
            str(self.catalog),
            "--db",
            str(self.db),
            *args,
        ]

    def start(self) -> None:
        with open(self.db.with_suffix(".log"), "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                self.cli("run", "--listen", f"127.0.0.1:{self.port}"), stdout=log, stderr=log
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"agent did not start: {self.db.with_suffix('.log').read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        self.proc = None
        return code

    def json(self, *args: str) -> Any:
        out = subprocess.run(self.cli(*args, "--json"), capture_output=True, check=True, timeout=60)
        return json.loads(out.stdout)


@pytest.fixture
def estate() -> Iterator[ScriptedEstate]:
    scripted = ScriptedEstate(refusing=["srefused"])
    yield scripted
    scripted.close()


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _by_service(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault(record["service"], []).append(record)
    return grouped


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def test_scripted_outages_become_incidents_with_the_scripted_start_and_end(
    estate: ScriptedEstate, tmp_path: Path
) -> None:
    catalog = tmp_path / "services.yaml"
    catalog.write_text(_catalog(estate, ["healthy", *BROKEN]))
    agent = AgentProcess(catalog, tmp_path / "vigia.db")
    begin = time.time()
    agent.start()
    time.sleep(4)
    broke_at = time.time()
    for sid in BROKEN:
        estate.set(sid, MODES[sid])
    time.sleep(6)
    fixed_at = time.time()
    for sid in BROKEN:
        estate.set(sid, "ok")
    time.sleep(5)
    assert agent.stop() == 0
    end = time.time()

    incidents = _by_service(agent.json("incidents"))
    assert "healthy" not in incidents
    for sid in BROKEN:
        assert len(incidents.get(sid, [])) == 1, (sid, incidents.get(sid))
        record = incidents[sid][0]
        assert abs(_at(record["started_at"]) - broke_at) <= INTERVAL + SLACK, (sid, record)
        assert abs(_at(record["ended_at"]) - fixed_at) <= INTERVAL + SLACK, (sid, record)
        assert _at(record["started_at"]) < _at(record["confirmed_at"]) <= _at(record["ended_at"])

    figures = agent.json("indicators", "--from", _iso(begin), "--to", _iso(end))
    services = {s["id"]: s for s in figures["services"]}
    assert services["healthy"]["down_seconds"] == 0
    assert services["healthy"]["availability"] == 100.0
    outage = fixed_at - broke_at
    for sid in BROKEN:
        s = services[sid]
        assert abs(s["down_seconds"] - outage) <= 2 * (INTERVAL + SLACK), (sid, s)
        known = s["up_seconds"] + s["down_seconds"]
        assert s["availability"] == pytest.approx(100 * (known - s["down_seconds"]) / known)
    restores = [incidents[sid][0]["restore_seconds"] for sid in ("s503", "srefused")]
    assert figures["ind4"]["value"] == pytest.approx(sum(restores) / len(restores) / 60)
    assert abs(figures["ind4"]["value"] - outage / 60) <= 2 * (INTERVAL + SLACK) / 60


def test_kill_9_mid_outage_continues_the_incident_and_reports_the_gap_as_unknown(
    estate: ScriptedEstate, tmp_path: Path
) -> None:
    catalog = tmp_path / "services.yaml"
    catalog.write_text(_catalog(estate, ["healthy", "s503"]))
    agent = AgentProcess(catalog, tmp_path / "vigia.db")
    agent.start()
    time.sleep(1.5)  # first results in: the period starts with every service observed
    begin = time.time()
    time.sleep(1)
    broke_at = time.time()
    estate.set("s503", "503")
    time.sleep(4.5)  # hard DOWN confirmed after 2 failures
    assert agent.json("incidents", "--open")[0]["service"] == "s503"
    killed_at = time.time()
    assert agent.stop(signal.SIGKILL) == -signal.SIGKILL
    time.sleep(5)  # longer than 2 x interval + timeout: a silence
    agent.start()
    restarted_at = time.time()
    time.sleep(3)
    fixed_at = time.time()
    estate.set("s503", "ok")
    time.sleep(4)
    assert agent.stop() == 0
    end = time.time()

    incidents = agent.json("incidents", "--service", "s503")
    assert len(incidents) == 1, incidents
    record = incidents[0]
    assert abs(_at(record["started_at"]) - broke_at) <= INTERVAL + SLACK
    assert abs(_at(record["ended_at"]) - fixed_at) <= INTERVAL + SLACK
    assert record["restore_seconds"] == pytest.approx(
        _at(record["ended_at"]) - _at(record["started_at"])
    )
    assert agent.json("incidents", "--service", "healthy") == []

    figures = agent.json("indicators", "--from", _iso(begin), "--to", _iso(end))
    services = {s["id"]: s for s in figures["services"]}
    gap = restarted_at - killed_at
    for sid in ("healthy", "s503"):
        unknown = services[sid]["unknown_seconds"]
        assert gap - 2 * INTERVAL - SLACK <= unknown <= gap + 3 * INTERVAL + SLACK, (sid, unknown)
    down = services["s503"]["down_seconds"]
    outage = fixed_at - broke_at
    assert abs(down - (outage - services["s503"]["unknown_seconds"])) <= 3 * (INTERVAL + SLACK)
    assert os.path.exists(tmp_path / "vigia.db")


def _metric(agent: AgentProcess, name: str) -> list[str]:
    body = httpx.get(f"http://127.0.0.1:{agent.port}/metrics", timeout=5).text
    return [line for line in body.splitlines() if line.startswith(name)]


def test_sighup_reloads_a_valid_catalogue_and_keeps_the_old_one_when_invalid(
    estate: ScriptedEstate, tmp_path: Path
) -> None:
    catalog = tmp_path / "services.yaml"
    catalog.write_text(_catalog(estate, ["healthy", "s503"]))
    agent = AgentProcess(catalog, tmp_path / "vigia.db")
    agent.start()
    try:
        estate.set("s503", "503")
        time.sleep(4)  # s503 hard DOWN with an open incident
        [before] = agent.json("incidents", "--open")
        catalog.write_text(_catalog(estate, ["healthy", "s503"]) + "  - {id: Bad!}\n")
        assert agent.proc is not None
        agent.proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert _metric(agent, "vigia_catalog_reload_success") == [
            "vigia_catalog_reload_success 0.0"
        ]
        assert any('service="healthy"' in line for line in _metric(agent, "vigia_service_up"))

        catalog.write_text(_catalog(estate, ["healthy", "s503", "sbody"]))
        agent.proc.send_signal(signal.SIGHUP)
        time.sleep(3)
        assert _metric(agent, "vigia_catalog_reload_success") == [
            "vigia_catalog_reload_success 1.0"
        ]
        up = _metric(agent, "vigia_service_up{")
        assert any('service="sbody"' in line and line.endswith(" 1.0") for line in up), up
        [after] = agent.json("incidents", "--open")
        assert after["id"] == before["id"]  # the unchanged service kept its state and incident
    finally:
        assert agent.stop() == 0
