"""A randomized loop of the cluster's faults for a bounded time, then an audit (issue #15).

Each round breaks a fresh service, strikes the cluster with one fault drawn from a seeded
random generator (kill -9, SIGSTOP past the lease, a clean stop, n3's link frozen or reset,
PostgreSQL restarted), heals it, waits for the partitions to spread again, and mends the service
the round before broke; so every outage spans a fault. Afterwards, for every scripted outage:
one incident, starting at its first failing probe and ending at the first ok probe after its
last failing one (as stored in probe_results), and exactly one firing and one resolved
notification at the sink.

VIGIA_CHAOS_SEED replays a run (the seed is printed); VIGIA_CHAOS_SECONDS bounds the loop.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from checks.durations import parse_duration
from tests.cluster.conftest import NAMES, PROXIED
from tests.cluster.private_postgres import PrivatePostgres
from tests.cluster.proxy import CuttableProxy
from tests.cluster.run_cluster import Cluster
from tests.cluster.scenarios import waited

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LOOP_SECONDS = float(os.environ.get("VIGIA_CHAOS_SECONDS", "75"))


@dataclass
class Scripted:
    service: str
    broke_at: int  # database time, micros
    mended_at: int = 0
    fault: str = ""  # struck right after the break
    after_mend: str = ""  # struck right after the mend (the next round's fault)


class Faults:
    """Each fault: strike, then heal after a while; both on the running cluster."""

    def __init__(self, cluster: Cluster, link: CuttableProxy, postgres: PrivatePostgres) -> None:
        self.cluster, self.link, self.postgres = cluster, link, postgres
        self.lease = cluster.layout.lease_seconds

    def strike(self, fault: str, node: str, rng: random.Random) -> None:
        """`fault` on `node`, held for 1.2 to 2 lease times, then healed."""
        nodes = self.cluster.nodes
        hold = rng.uniform(1.2, 2.0) * self.lease
        heal: Callable[[], object]
        if fault == "kill -9":
            nodes[node].signal(signal.SIGKILL)
            heal = lambda: self.cluster.start(node)  # noqa: E731
        elif fault == "SIGSTOP":
            nodes[node].signal(signal.SIGSTOP)
            heal = lambda: nodes[node].signal(signal.SIGCONT)  # noqa: E731
        elif fault == "SIGTERM":
            assert nodes[node].terminate() == 0
            heal = lambda: self.cluster.start(node)  # noqa: E731
        elif fault in ("link frozen", "link reset"):
            if fault == "link frozen":
                self.link.freeze(mid_transaction=rng.random() < 0.5)
            else:
                self.link.cut()
            heal = self.link.restore
        else:
            self.cluster.db.dispose()
            self.postgres.stop()
            heal = self.postgres.start
        time.sleep(hold)
        if fault == "kill -9":
            nodes[node].stop()  # reaped before it starts again under its name
        heal()


FAULTS = ["kill -9", "SIGSTOP", "SIGTERM", "link frozen", "link reset", "PostgreSQL restart"]
# Faults after which an owner's results can reach the database late: taken before it gave its
# partitions up, written (as pending) only once it is back, after the new owner judged newer
# probes of the same check. semantics.md section 8 stores such a result without letting it
# move the state, so the incident's start (or end) is the new owner's first failing (or ok)
# probe instead: later by at most the fault's hold (2 leases), a reclaim (1 lease), two
# intervals and a timeout.
# After the other faults (kill -9 loses what was in flight, SIGTERM writes it before it
# releases) the start and end are exact.
LATE = {"SIGSTOP", "link frozen", "link reset", "PostgreSQL restart"}


def test_a_random_loop_of_faults_keeps_every_outage_once_with_its_start_and_end(
    cluster: Cluster, link: CuttableProxy, postgres: PrivatePostgres
) -> None:
    seed = int(os.environ.get("VIGIA_CHAOS_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"VIGIA_CHAOS_SEED={seed}")
    faults = Faults(cluster, link, postgres)
    # half the catalogue at most, from its start: the other tests take theirs from its end
    half = cluster.services[: len(cluster.services) // 2]
    fresh = [s for s in half if not cluster.incidents(s)]
    rng.shuffle(fresh)
    script: list[Scripted] = []
    ends = time.monotonic() + LOOP_SECONDS
    while time.monotonic() < ends and fresh:
        outage = Scripted(fresh.pop(), cluster.now_micros())
        cluster.estate.set(outage.service, "503")
        outage.fault = rng.choice(FAULTS)
        if len(script) > 1:  # mended at the end of the last round: this fault follows its mend
            script[-2].after_mend = outage.fault
        node = PROXIED if outage.fault.startswith("link") else rng.choice(NAMES)
        faults.strike(outage.fault, node, rng)
        waited(cluster, lambda: cluster.balanced(NAMES), 90, f"the cluster after {outage.fault}")
        if script:
            mend(cluster, script[-1])
        script.append(outage)
        print(f"{outage.service}: broken at {outage.broke_at}, {outage.fault} on {node}")
    mend(cluster, script[-1])
    audit(cluster, script)


def mend(cluster: Cluster, outage: Scripted) -> None:
    """End `outage` once it is a real one (ServiceDown sent) and the cluster has got over the
    round's fault (a writer backing off after PostgreSQL came back, say), so its end does not
    fall in that fault's wake."""
    alert = f"ServiceDown/{outage.service}"
    waited(cluster, lambda: cluster.sink.count(alert, "firing"), 30, f"{alert} to fire")
    time.sleep(2 * parse_duration(cluster.layout.interval))
    outage.mended_at = cluster.now_micros()
    cluster.estate.set(outage.service, "ok")
    print(f"{outage.service}: mended at {outage.mended_at}, owner {cluster.owner(outage.service)}")


def audit(cluster: Cluster, script: list[Scripted]) -> None:
    def unsettled() -> list[str]:
        told = []
        for o in script:
            resolved = cluster.sink.count(f"ServiceDown/{o.service}", "resolved")
            ends = [i.ended_at for i in cluster.incidents(o.service)]
            if not resolved or len(ends) != 1 or ends[0] is None:
                told.append(f"{o.service}: {resolved} resolved, incidents ending {ends}")
        return told

    try:
        waited(cluster, lambda: not unsettled(), 60, "every scripted outage to be resolved")
    except AssertionError as timed_out:
        told = unsettled()
        stacks = {n: node.dump_stacks() for n, node in cluster.nodes.items()}
        raise AssertionError(f"{timed_out}\n{told}\nthe nodes were in:\n{stacks}") from None
    time.sleep(2)  # time for a wrong second delivery to arrive
    wrong = [
        f"{o.service} ({o.fault}): {error}" for o in script if (error := misrecorded(cluster, o))
    ]
    assert wrong == [], "\n".join(wrong)


def misrecorded(cluster: Cluster, outage: Scripted) -> str:
    """What is wrong with how the cluster recorded and notified `outage`; "" when nothing."""
    alert = f"ServiceDown/{outage.service}"
    sent = (cluster.sink.count(alert, "firing"), cluster.sink.count(alert, "resolved"))
    if sent != (1, 1):
        return f"{sent[0]} firing and {sent[1]} resolved notifications, not one of each"
    incidents = cluster.incidents(outage.service)
    if len(incidents) != 1:
        return f"{len(incidents)} incidents, not one"
    (incident,) = incidents
    first_fail, first_ok = probed_bounds(cluster, outage)
    started, ended = micros(incident.started_at), micros(incident.ended_at)
    layout = cluster.layout
    late = 3 * layout.lease_seconds + 2 * parse_duration(layout.interval)
    late_us = int((late + parse_duration(layout.timeout)) * 1e6)
    allowed = (late_us if outage.fault in LATE else 0, late_us if outage.after_mend in LATE else 0)
    shifts = (started - first_fail, ended - first_ok)
    after = outage.after_mend or "nothing"
    print(f"{outage.service}: start {shifts[0] / 1e6:+.2f} s ({outage.fault}), "
          f"end {shifts[1] / 1e6:+.2f} s ({after}) from its probes")  # fmt: skip
    if not all(0 <= shift <= bound for shift, bound in zip(shifts, allowed, strict=True)):
        return (
            f"incident {started}..{ended}, its probes {first_fail}..{first_ok}, allowed {allowed}"
        )
    return ""


def probed_bounds(cluster: Cluster, outage: Scripted) -> tuple[int, int]:
    """The first failing probe from the break on, and the first ok one after the last failing
    one: the start and end semantics.md section 3 gives the incident."""
    timeout = int(parse_duration(cluster.layout.timeout) * 1e6)
    rows = cluster.rows(
        "SELECT started_at, outcome FROM probe_results WHERE service = :s AND location = 'local' "
        "AND started_at >= :b ORDER BY started_at",
        s=outage.service,
        b=outage.broke_at - timeout,  # a probe that started just before the break may fail
    )
    failing = [int(at) for at, outcome in rows if outcome == "fail"]
    assert failing, f"{outage.service}: no failing probe stored"
    ok_after = [int(at) for at, outcome in rows if outcome == "ok" and int(at) > failing[-1]]
    assert ok_after, f"{outage.service}: no ok probe stored after its outage"
    return failing[0], ok_after[0]


def micros(at: datetime | None) -> int:
    assert at is not None
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
