"""End to end with real network separation (issue #14): three locations, each a network
namespace running `vigia probe`, reporting over HTTPS (a private CA) to `vigia run` on the host,
which also serves the estate. Links are cut by taking a veth down; DNS is broken by the
namespace's own hosts file (`ip netns exec` mounts /etc/netns/<name>/hosts over /etc/hosts).

One scripted story, in order, because each step needs the estate the previous one left:
a location cut (no incident, LocationDown, its spool flushed once on heal), a worker killed -9
and restarted (nothing sent twice), a location whose DNS breaks (LocationCheckFailing, no
incident), the target down for all (one incident, starting at the earliest first failing probe
of the quorum), a worker with a skewed clock (refused, LocationClockSkew).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.api.auth import hash_token, new_token
from tests.e2e.estate import ScriptedEstate
from tests.e2e.test_agent_e2e import _free_port

LOCATIONS = ("lisboa", "porto", "viseu")
FAKETIME_LIBS = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))


def _can_make_namespaces() -> str:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = f"vgprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


_WHY_NOT = _can_make_namespaces()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(_WHY_NOT), reason=_WHY_NOT or "namespaces available"),
]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass
class Namespace:
    location: str
    index: int
    suffix: str

    @property
    def name(self) -> str:
        return f"vg-{self.location}-{self.suffix}"

    @property
    def host_link(self) -> str:
        return f"vg{self.index}h{self.suffix}"[:15]

    @property
    def host_ip(self) -> str:
        return f"10.77.{self.index}.1"

    @property
    def own_ip(self) -> str:
        return f"10.77.{self.index}.2"

    @property
    def etc(self) -> Path:
        return Path("/etc/netns") / self.name

    def create(self) -> None:
        inner = f"vg{self.index}n{self.suffix}"[:15]
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")
        for args in (
            ("addr", "add", f"{self.own_ip}/24", "dev", inner),
            ("link", "set", inner, "up"),
            ("link", "set", "lo", "up"),
        ):
            _ip("netns", "exec", self.name, "ip", *args)
        self.etc.mkdir(parents=True, exist_ok=True)
        self.write_hosts(dns_works=True)
        # no resolver answers inside: a name missing from the hosts file fails at once
        (self.etc / "resolv.conf").write_text(
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
        )

    def write_hosts(self, dns_works: bool) -> None:
        """In place (same inode): the bind mount of a running worker sees the change."""
        names = "estate.test core.test" if dns_works else "core.test"
        with open(self.etc / "hosts", "w", encoding="utf-8") as hosts:
            hosts.write(f"127.0.0.1 localhost\n{self.host_ip} {names}\n")

    def link(self, up: bool) -> None:
        _ip("link", "set", self.host_link, "up" if up else "down")

    def destroy(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_link], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.etc, ignore_errors=True)


@dataclass
class Story:
    tmp: Path
    estate: ScriptedEstate
    namespaces: dict[str, Namespace]
    tokens: dict[str, str]
    core_port: int
    ca_file: Path
    core: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # ---- processes --------------------------------------------------------------------------

    def start_core(self) -> None:
        with open(self.tmp / "core.log", "ab") as log:  # the child keeps its own copy
            self.core = subprocess.Popen(
                [sys.executable, "-m", "agent.cli", "--config", str(self.tmp / "vigia.yaml"),
                 "run"],
                cwd=self.tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        _until(lambda: self._core_answers(), 30, "the core never answered")

    def _core_answers(self) -> bool:
        try:
            return self.api("/healthz").status_code in (200, 503)
        except httpx.HTTPError:
            return False

    def start_worker(self, location: str, faketime: str | None = None) -> None:
        ns = self.namespaces[location]
        env = {**os.environ, "VIGIA_PROBE_TOKEN": self.tokens[location]}
        if faketime:
            env.update(LD_PRELOAD=FAKETIME_LIBS[0], FAKETIME=faketime, FAKETIME_DONT_RESET="1")
        command = [
            "ip", "netns", "exec", ns.name, sys.executable, "-m", "agent.cli", "probe",
            "--location", location, "--core", f"https://core.test:{self.core_port}",
            "--ca-file", str(self.ca_file), "--spool", str(self.tmp / f"spool-{location}.db"),
        ]  # fmt: skip
        with open(self.tmp / f"worker-{location}.log", "ab") as log:
            self.workers[location] = subprocess.Popen(
                command, cwd=self.tmp, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill_worker(self, location: str) -> None:
        proc = self.workers.pop(location)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in [*self.workers.values(), *([self.core] if self.core else [])]:
            proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers.values(), *([self.core] if self.core else [])]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    # ---- what the core says -----------------------------------------------------------------

    def api(self, path: str) -> httpx.Response:
        return httpx.get(
            f"https://127.0.0.1:{self.core_port}{path}",
            headers={"Authorization": f"Bearer {self.tokens['admin']}"},
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            timeout=5,
        )

    def alerts(self) -> dict[str, dict[str, Any]]:
        """Active alerts by rule name."""
        return {a["rule"]: a for a in self.api("/api/v1/alerts").json()}

    def locations(self) -> dict[str, dict[str, Any]]:
        return {row["name"]: row for row in self.api("/api/v1/locations").json()}

    def incidents(self) -> list[dict[str, Any]]:
        return list(self.api("/api/v1/incidents").json()["items"])

    def results(self, location: str) -> list[tuple[datetime, str]]:
        """(started_at, outcome) of the location's stored results, oldest first."""
        with sqlite3.connect(f"file:{self.tmp / 'vigia.db'}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT started_at, outcome FROM probe_results WHERE location = ? "
                "ORDER BY started_at",
                (location,),
            ).fetchall()
        return [(datetime.fromtimestamp(us / 1e6, UTC), outcome) for us, outcome in rows]

    def incident_locations(self, incident_id: int) -> list[str]:
        with sqlite3.connect(f"file:{self.tmp / 'vigia.db'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT locations FROM incidents WHERE id = ?", (incident_id,))
            return list(json.loads(row.fetchone()[0]))

    def duplicates(self) -> int:
        with sqlite3.connect(f"file:{self.tmp / 'vigia.db'}?mode=ro", uri=True) as db:
            row = db.execute(
                'SELECT COUNT(*) - COUNT(DISTINCT "check" || location || started_at) '
                "FROM probe_results"
            ).fetchone()
        return int(row[0])


def _until(condition: Callable[[], bool], seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(message)


def _write_settings(tmp: Path, port: int, tokens: dict[str, str], cert: Path, key: Path) -> None:
    lines = [
        f"listen: 0.0.0.0:{port}",
        f"tls_cert: {cert}",
        f"tls_key: {key}",
        f"db: {tmp / 'vigia.db'}",
        f"catalog: {tmp / 'services.yaml'}",
        "allowed_hosts: ['*']",
        "tokens:",
        f"  - {{name: admin, role: admin, hash: '{hash_token(tokens['admin'])}'}}",
        "locations:",
        *(f"  - {{name: {n}, hash: '{hash_token(tokens[n])}'}}" for n in LOCATIONS),
    ]
    (tmp / "vigia.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_catalog(tmp: Path, estate_port: int) -> None:
    (tmp / "services.yaml").write_text(
        "version: 1\n"
        "defaults: {interval: 1s, timeout: 800ms, confirm_down: 2, confirm_up: 1}\n"
        "services:\n"
        "  - id: portal\n"
        "    name: Portal do cidadão\n"
        "    macro_service: desenvolvimento-aplicacoes\n"
        "    tier: platina\n"
        "    pcn: true\n"
        f"    locations: [{', '.join(LOCATIONS)}]\n"
        f"    checks: [{{name: web, http: {{url: 'http://estate.test:{estate_port}/portal/h'}}}}]\n",
        encoding="utf-8",
    )


@pytest.fixture
def story(tmp_path: Path) -> Iterator[Story]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    issued = ca.issue_cert("core.test", "127.0.0.1")
    cert, key, ca_file = tmp_path / "core.pem", tmp_path / "core.key", tmp_path / "ca.pem"
    issued.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    ca.cert_pem.write_to_path(str(ca_file))
    estate = ScriptedEstate(refusing=[], host="0.0.0.0")
    suffix = str(os.getpid() % 10000)
    namespaces = {n: Namespace(n, i + 1, suffix) for i, n in enumerate(LOCATIONS)}
    tokens = {name: new_token() for name in (*LOCATIONS, "admin")}
    port = _free_port()
    _write_settings(tmp_path, port, tokens, cert, key)
    _write_catalog(tmp_path, estate.port)
    made = Story(tmp_path, estate, namespaces, tokens, port, ca_file)
    try:
        for ns in namespaces.values():
            ns.create()
        yield made
    finally:
        made.stop_all()
        for ns in namespaces.values():
            ns.destroy()
        estate.close()
        for log in sorted(tmp_path.glob("*.log")):  # shown by pytest on a failure
            print(f"---- {log.name}\n{log.read_text(errors='replace')[-3000:]}")


def test_three_locations_through_cuts_kills_broken_dns_an_outage_and_a_skewed_clock(
    story: Story,
) -> None:
    story.start_core()
    for location in LOCATIONS:
        story.start_worker(location)
    _until(
        lambda: all(r["last_seen"] and not r["down"] for r in story.locations().values()
                    if r["name"] in LOCATIONS),
        40,
        "not every location reported",
    )  # fmt: skip
    _until(lambda: all(len(story.results(n)) >= 3 for n in LOCATIONS), 20, "no results")

    # -- porto cut for 8 s: no incident, LocationDown, the spool flushed once on heal ---------
    cut_at = datetime.now(UTC)
    story.namespaces["porto"].link(up=False)
    _until(lambda: "LocationDown" in story.alerts(), 20, "LocationDown never fired")
    assert "porto" in story.alerts()["LocationDown"]["summary"]
    time.sleep(2)
    healed_at = datetime.now(UTC)
    story.namespaces["porto"].link(up=True)
    _until(lambda: "LocationDown" not in story.alerts(), 30, "LocationDown did not resolve")
    during_cut = [at for at, _ in story.results("porto") if cut_at < at < healed_at]
    assert len(during_cut) >= 4, "the results porto probed during the cut never arrived"
    assert story.duplicates() == 0
    assert story.incidents() == [], "a cut location became a service incident"

    # -- porto's worker killed -9 and restarted on its spool: nothing sent twice --------------
    before = len(story.results("porto"))
    story.kill_worker("porto")
    story.start_worker("porto")
    _until(lambda: len(story.results("porto")) >= before + 3, 30, "porto did not resume")
    assert story.duplicates() == 0

    # -- viseu's DNS breaks: its check fails below quorum, LocationCheckFailing, no incident --
    story.namespaces["viseu"].write_hosts(dns_works=False)
    _until(lambda: "LocationCheckFailing" in story.alerts(), 30, "no LocationCheckFailing")
    assert "viseu" in story.alerts()["LocationCheckFailing"]["summary"]
    assert story.incidents() == []
    story.namespaces["viseu"].write_hosts(dns_works=True)
    _until(lambda: "LocationCheckFailing" not in story.alerts(), 30, "it did not resolve")

    # -- the target down for all: one incident, from the quorum's earliest first failure -----
    down_at = datetime.now(UTC)
    story.estate.set("portal", "503")
    _until(lambda: len(story.incidents()) == 1, 30, "no incident for an outage seen everywhere")
    incident = story.incidents()[0]
    quorum = story.incident_locations(incident["id"])
    assert len(quorum) >= 2, quorum
    first_failures = {
        location: min(at for at, outcome in story.results(location)
                      if at > down_at and outcome == "fail")
        for location in quorum
    }  # fmt: skip
    assert datetime.fromisoformat(incident["started_at"]) == min(first_failures.values())
    story.estate.set("portal", "ok")
    _until(lambda: story.incidents()[0]["ended_at"] is not None, 30, "the incident never ended")
    assert len(story.incidents()) == 1

    # -- lisboa restarted with its clock 10 minutes behind: refused, LocationClockSkew --------
    if not FAKETIME_LIBS:
        pytest.skip("libfaketime is not installed (apt install faketime; CI installs it)")
    story.kill_worker("lisboa")
    stored = len(story.results("lisboa"))
    story.start_worker("lisboa", faketime="-600s")
    _until(lambda: "LocationClockSkew" in story.alerts(), 30, "no LocationClockSkew")
    assert "lisboa" in story.alerts()["LocationClockSkew"]["summary"]
    assert story.locations()["lisboa"]["rejected_batches"] >= 1
    assert len(story.results("lisboa")) == stored, "a skewed worker's results were stored"
    assert len(story.incidents()) == 1
