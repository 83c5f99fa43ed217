"""A cluster node for the fault-injection tests, run as a subprocess.

    python -m tests.cluster.node URL NODE PARTITIONS LEASE_SECONDS

It runs the real renewer and, every 50 ms, one fenced transaction per partition that writes a
row to `cluster_writes` (node, partition, epoch, database time). It keeps trying the epochs of
partitions it lost, so the fence, not the node's own bookkeeping, is what must stop them. Events
go to stdout as JSON lines: lease changes, `fenced` (a write the fence refused), `write`.
SIGTERM: a clean shutdown (leases released at once).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Mapping

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from agent.cluster import lease
from agent.cluster.errors import LeaseLostError
from agent.cluster.holdings import Holdings
from agent.cluster.lease import LeaseConfig
from agent.cluster.renewer import Renewer, renewer_engine

_out = threading.Lock()


def emit(kind: str, **data: object) -> None:
    with _out:
        print(json.dumps({"event": kind, **data}), flush=True)


def main(url: str, node: str, partitions: int, lease_seconds: float) -> None:
    config = LeaseConfig(node=node, partitions=partitions, lease_seconds=lease_seconds)
    last_epoch: dict[int, int] = {}

    def listener(kind: str, held: Mapping[int, int]) -> None:
        if kind == "claimed":
            last_epoch.update(held)
        emit(kind, partitions={str(p): e for p, e in held.items()})

    renewer = Renewer(
        renewer_engine(url, config), config, Holdings(time.monotonic), listener=listener
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    renewer.start()
    emit("started")
    # A transaction left open by a paused node would keep its fence's share lock, and so its
    # partition, forever: the server ends such a transaction after one lease time.
    idle = f"-c idle_in_transaction_session_timeout={int(lease_seconds * 1000)}"
    writes = create_engine(url, pool_size=2, connect_args={"connect_timeout": 2, "options": idle})
    while not stop.is_set():
        for partition, epoch in sorted(last_epoch.items()):
            write(writes, node, partition, epoch)
        stop.wait(0.05)
    renewer.stop()
    emit("stopped")


def write(engine: Engine, node: str, partition: int, epoch: int) -> None:
    try:
        with engine.begin() as conn:
            lease.assert_lease(conn, partition, node, epoch)
            conn.execute(
                text("INSERT INTO cluster_writes (partition, node, epoch) VALUES (:p, :n, :e)"),
                {"p": partition, "n": node, "e": epoch},
            )
    except LeaseLostError:
        emit("fenced", partition=partition, epoch=epoch)
    except SQLAlchemyError as exc:
        emit("db_error", partition=partition, error=type(exc).__name__)
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
