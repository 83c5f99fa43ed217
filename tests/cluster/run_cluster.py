"""Real `vigia run` nodes as subprocesses on one PostgreSQL database, probing a scripted
loopback estate and notifying a webhook sink: the harness of the fault tests
(tests/cluster/test_run_faults.py) and of bench/cluster_failover.py.

Everything stays on loopback; every process and database it makes, it removes (`close`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from agent.cluster.partitions import partition_of
from agent.records import Incident
from agent.store.sql import SqlStore
from tests.alerting.servers import HttpRecorder
from tests.e2e.estate import ScriptedEstate

ROOT = Path(__file__).resolve().parents[2]
DB_NOW = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> float:
    """Seconds until `condition()` was true; fails naming `what` after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except Exception:  # the database restarting, a node not listening yet: try again
            pass
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def services_covering(partitions: int, each: int = 1) -> list[str]:
    """Service ids, `each` in every partition (so every owner commits all the time)."""
    found: dict[int, list[str]] = {p: [] for p in range(partitions)}
    n = 0
    while any(len(names) < each for names in found.values()):
        names = found[partition_of(f"svc-{n}", partitions)]
        if len(names) < each:
            names.append(f"svc-{n}")
        n += 1
    return sorted(s for names in found.values() for s in names)


def new_database(admin: Engine) -> tuple[str, str]:
    """A fresh database on `admin`'s server (an AUTOCOMMIT engine), migrated: (name, URL)."""
    name = f"vigia_run_{os.getpid()}_{int(time.time() * 1000) % 10**8}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(False)
    SqlStore.open(url).close()  # migrated once, before any node starts
    return name, url


def drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def lease_holders(db: Engine) -> dict[int, str]:
    """Partitions with a live lease, and their holders."""
    with db.begin() as conn:
        rows = conn.execute(
            text(f"SELECT partition, holder FROM partition_leases WHERE expires_at > {DB_NOW}")
        ).all()
    return {int(p): str(h) for p, h in rows}


def is_balanced(held: dict[int, str], partitions: int, names: list[str]) -> bool:
    """Every partition held, by these nodes only, none with more than its share."""
    share = -(-partitions // len(names))
    counts = [list(held.values()).count(n) for n in names]
    return (
        len(held) == partitions
        and set(held.values()) <= set(names)
        and max(counts) <= share
        and min(counts) > 0
    )


@dataclass(frozen=True)
class Layout:
    partitions: int = 8
    lease_seconds: float = 3.0
    interval: str = "2s"
    timeout: str = "1s"
    services_per_partition: int = 1


class Sink:
    """A webhook receiver that keeps every notification it is sent."""

    def __init__(self) -> None:
        self.recorder = HttpRecorder()
        self.recorder.__enter__()
        self.url = f"{self.recorder.url}/hook"

    def notifications(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for request in list(self.recorder.requests):
            out += json.loads(request.body)["notifications"]
        return out

    def count(self, alert_id: str, status: str) -> int:
        return sum(
            1
            for n in self.notifications()
            if n["alert_id"] == alert_id
            and n["status"] == status
            and "reminder" not in n.get("extra", {})
        )

    def close(self) -> None:
        self.recorder.__exit__()


class RunNode:
    """One `vigia run --listen 127.0.0.1:<port>` with a `cluster:` section."""

    def __init__(self, name: str, cluster: Cluster) -> None:
        self.name = name
        self.cluster = cluster
        self.port = free_port()
        self.config = cluster.folder / f"{name}.yaml"
        self.log = cluster.folder / f"{name}.log"
        layout = cluster.layout
        self.config.write_text(
            f"cluster: {{node: {name}, partitions: {layout.partitions}, "
            f"lease_seconds: {layout.lease_seconds}}}\n"
            "alerting:\n"
            f"  receivers: [{{name: hook, type: webhook, url: '{cluster.sink.url}'}}]\n"
            "  routes: [{team: '*', receivers: [hook]}]\n",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None
        # another address of the same database for some nodes: a proxy a test can cut
        self.db_url = cluster.routes.get(name, cluster.url)

    def start(self) -> None:
        argv = [
            sys.executable, "-m", "agent.cli", "--config", str(self.config),
            "--catalog", str(self.cluster.catalog), "--db", self.db_url,
            "run", "--listen", f"127.0.0.1:{self.port}",
        ]  # fmt: skip
        # faulthandler: SIGABRT prints every thread's stack to the log (`dump_stacks`)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
        with self.log.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log, env=env)

    def wait_listening(self, timeout: float = 90) -> None:  # a loaded 2-core machine is slow
        def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code > 0

        wait_for(answers, timeout, f"{self.name} to listen")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def terminate(self, timeout: float = 30) -> int:
        """A clean stop (SIGTERM): the node releases its partitions itself; its exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = self.dump_stacks()
            raise AssertionError(
                f"{self.name} did not stop in {timeout} s; in:\n{stacks}"
            ) from None
        self.process = None
        return code

    def dump_stacks(self) -> str:
        """End the node with SIGABRT and return the stacks its threads were in: what a test
        that found it stuck shows."""
        if not self.alive:
            return f"{self.name} is not running"
        size = self.log.stat().st_size
        self.signal(signal.SIGABRT)
        assert self.process is not None
        self.process.wait(20)
        self.process = None
        with self.log.open("rb") as log:
            log.seek(size)
            return log.read().decode(errors="replace")

    def log_lines(self, containing: str) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if containing in line]

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
        self.process.wait(20)
        self.process = None


class Cluster:
    """A database on `admin_url`'s server, a catalogue of `services` probing `estate`, nodes."""

    def __init__(self, admin_url: str, folder: Path, layout: Layout | None = None) -> None:
        self.layout = layout or Layout()
        self.folder = folder
        self.services = services_covering(
            self.layout.partitions, self.layout.services_per_partition
        )
        self.estate = ScriptedEstate(refusing=[])
        self.sink = Sink()
        self.catalog = folder / "services.yaml"
        self.catalog.write_text(self._catalog(), encoding="utf-8")
        # no pool: a connection kept across a restart of the server would be dead at the drop
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.database, self.url = new_database(self._admin)
        self.db: Engine = create_engine(self.url, pool_pre_ping=True)
        self.nodes: dict[str, RunNode] = {}
        self.routes: dict[str, str] = {}  # node -> the URL it reaches the database by

    def _catalog(self) -> str:
        layout = self.layout
        lines = [
            "version: 1",
            f"defaults: {{interval: {layout.interval}, timeout: {layout.timeout}, "
            "confirm_down: 2, confirm_up: 2}",
            "services:",
        ]
        lines += [
            f"  - {{id: {s}, name: {s}, macro_service: comunicacoes, tier: bronze,"
            f" checks: [{{http: {{url: '{self.estate.url(s)}'}}}}]}}"
            for s in self.services
        ]
        return "\n".join(lines) + "\n"

    # ---- nodes ----------------------------------------------------------------------------

    def start(self, *names: str) -> list[RunNode]:
        started = [self.nodes.setdefault(n, RunNode(n, self)) for n in names]
        for node in started:
            node.start()
        for node in started:
            node.wait_listening()
        return started

    def balanced(self, names: list[str]) -> bool:
        """Every partition held, by these nodes only, none with more than its share."""
        return is_balanced(self.holders(), self.layout.partitions, names)

    # ---- the database -----------------------------------------------------------------------

    def rows(self, sql: str, **params: object) -> list[Any]:
        with self.db.begin() as conn:
            return list(conn.execute(text(sql), params).all())

    def holders(self) -> dict[int, str]:
        """Partitions with a live lease, and their holders."""
        return lease_holders(self.db)

    def epochs(self, node: str) -> dict[int, int]:
        rows = self.rows(
            f"SELECT partition, epoch FROM partition_leases WHERE holder = :n "
            f"AND expires_at > {DB_NOW}",
            n=node,
        )
        return {int(p): int(e) for p, e in rows}

    def partition(self, service: str) -> int:
        return partition_of(service, self.layout.partitions)

    def owner(self, service: str) -> str | None:
        return self.holders().get(self.partition(service))

    def now_micros(self) -> int:
        return int(self.rows(f"SELECT {DB_NOW}")[0][0])

    def incidents(self, service: str) -> list[Incident]:
        store = SqlStore.open(self.url)
        try:
            return list(store.incidents(service=service))
        finally:
            store.close()

    def results_since(self, service: str, since: datetime) -> int:
        store = SqlStore.open(self.url)
        try:
            with store.transaction() as conn:
                return int(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM probe_results WHERE service = :s "
                            "AND started_at >= :t"
                        ),
                        {"s": service, "t": int(since.timestamp() * 1_000_000)},
                    ).scalar_one()
                )
        finally:
            store.close()

    def undelivered(self) -> int:
        return int(self.rows("SELECT count(*) FROM outbox WHERE state = 'pending'")[0][0])

    def commits(self) -> dict[tuple[int, int], tuple[str, int, int]]:
        """partition_commits: (partition, epoch) -> (node, first_at, last_at) in micros."""
        rows = self.rows("SELECT partition, epoch, node, first_at, last_at FROM partition_commits")
        return {(int(p), int(e)): (str(n), int(f), int(last)) for p, e, n, f, last in rows}

    def log_errors(self, last: int = 5) -> str:
        """The last ERROR and WARNING lines of every node's log: what a failed wait says."""
        told = []
        for name, node in self.nodes.items():
            lines = node.log.read_text(errors="replace").splitlines() if node.log.exists() else []
            worst = [line for line in lines if " ERROR " in line or " WARNING " in line]
            told += [f"{name}: {line}" for line in worst[-last:]]
        return "\n".join(told)

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.db.dispose()
        try:
            drop_database(self._admin, self.database)
        finally:
            self._admin.dispose()
            self.estate.close()
            self.sink.close()
