"""Failover time after kill -9 (issue #15): two node processes on a private database of the
PostgreSQL at $VIGIA_TEST_POSTGRES_URL; the holder of a partition is killed, the time until the
survivor holds every partition is measured; repeated. Prints p50/p99/max and the lease time.

    VIGIA_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        nice -n 10 .venv/bin/python -m bench.cluster_failover --kills 12 --lease 3
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text

from agent.store.sql import SqlStore
from tests.cluster.conftest import WRITES_TABLE

PARTITIONS = 8


def held(db: Engine, node: str) -> int:
    query = text(
        "SELECT count(*) FROM partition_leases WHERE holder = :n "
        "AND expires_at > (extract(epoch from clock_timestamp()) * 1000000)::bigint"
    )
    with db.begin() as conn:
        return int(conn.execute(query, {"n": node}).scalar_one())


def node(url: str, name: str, lease: float, folder: Path) -> subprocess.Popen[bytes]:
    out = (folder / f"{name}.log").open("w")
    argv = [sys.executable, "-m", "tests.cluster.node", url, name, str(PARTITIONS), str(lease)]
    return subprocess.Popen(argv, stdout=out, stderr=out)


def until(condition: object, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if callable(condition) and condition():
            return time.monotonic() - started
        time.sleep(0.02)
    raise TimeoutError


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--lease", type=float, default=3.0)
    args = parser.parse_args()
    base = os.environ["VIGIA_TEST_POSTGRES_URL"]
    name = f"vigia_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    store = SqlStore.open(url)
    with store.transaction() as conn:
        conn.execute(text(WRITES_TABLE))
    store.close()
    db = create_engine(url)
    folder = Path(tempfile.mkdtemp())
    survivor = node(url, "survivor", args.lease, folder)
    times = []
    try:
        for n in range(args.kills):
            victim = node(url, f"victim{n}", args.lease, folder)
            until(lambda v=f"victim{n}": held(db, v) == PARTITIONS // 2, 10 * args.lease)
            victim.send_signal(signal.SIGKILL)
            times.append(until(lambda: held(db, "survivor") == PARTITIONS, 5 * args.lease))
            victim.wait()
    finally:
        survivor.kill()
        survivor.wait()
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(
        f"kills={len(times)} lease={args.lease}s renew_every={args.lease / 3:.1f}s "
        f"p50={statistics.median(times):.2f}s p99={p99:.2f}s max={times[-1]:.2f}s "
        f"p99/lease={p99 / args.lease:.2f}"
    )


if __name__ == "__main__":
    main()
