"""Steps the fault tests on real `vigia run` nodes share: an outage of one service, its end,
and the audits of what the cluster recorded."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.cluster.run_cluster import Cluster, wait_for


def waited(cluster: Cluster, condition: Callable[[], Any], timeout: float, what: str) -> float:
    """`wait_for`, whose failure also shows what the nodes logged last."""
    try:
        return wait_for(condition, timeout, what)
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; the nodes logged:\n{cluster.log_errors()}") from None


def fresh_service(cluster: Cluster, owner: str | None = None) -> str:
    """A service that has had no outage yet (judged by `owner`, when given), from the end of
    the catalogue; test_run_chaos.py takes its own from the start."""
    for service in reversed(cluster.services):
        if owner in (None, cluster.owner(service)) and not cluster.incidents(service):
            return service
    raise AssertionError(f"no service of {owner or 'any node'} is left without an incident")


def outage(cluster: Cluster, service: str) -> tuple[int, datetime]:
    """Break `service` and wait for its incident and its one notification; (id, start)."""
    cluster.estate.set(service, "503")
    alert = f"ServiceDown/{service}"
    waited(cluster, lambda: cluster.sink.count(alert, "firing"), 30, "ServiceDown")
    waited(cluster, lambda: cluster.undelivered() == 0, 10, "the delivery to be recorded")
    waited(cluster, lambda: cluster.incidents(service), 10, "the incident's commit")
    (incident,) = cluster.incidents(service)
    assert incident.ended_at is None
    return incident.id, incident.started_at


def restored(cluster: Cluster, service: str, opened: tuple[int, datetime]) -> None:
    """Mend `service`; its one incident closes with the id and start it opened with, and the
    sink got exactly one firing and one resolved notification for it."""
    cluster.estate.set(service, "ok")
    alert = f"ServiceDown/{service}"
    waited(cluster, lambda: cluster.sink.count(alert, "resolved"), 40, "the resolved notification")
    # the notification may be committed before the engine's batch that closes the incident
    waited(cluster, lambda: all(i.ended_at for i in cluster.incidents(service)), 10, "the close")
    (incident,) = cluster.incidents(service)
    assert (incident.id, incident.started_at) == opened
    time.sleep(2)  # time for a wrong second delivery to arrive
    assert (cluster.sink.count(alert, "firing"), cluster.sink.count(alert, "resolved")) == (1, 1)


def overlaps(cluster: Cluster, old: dict[int, int], node: str) -> list[str]:
    """From the partition_commits audit: each partition of `old` ({partition: epoch} `node`
    held) committed under a later epoch, and `node`'s last commit under its old epoch came
    before the first commit under any later one. What breaks that, said in words."""
    commits = cluster.commits()
    wrong = []
    for p, epoch in sorted(old.items()):
        later = [c for (q, e), c in commits.items() if q == p and e > epoch]
        if not later:
            wrong.append(f"partition {p}: no commit under an epoch after {epoch}")
            continue
        stale = commits.get((p, epoch))
        if stale is None:
            continue
        next_began = min(first for _, first, _ in later)
        if stale[0] != node:
            wrong.append(f"partition {p}: epoch {epoch} committed by {stale[0]}, not {node}")
        elif stale[2] >= next_began:
            late = (stale[2] - next_began) / 1e6
            wrong.append(f"partition {p}: epoch {epoch} committed {late:.3f} s into the next")
    return wrong
