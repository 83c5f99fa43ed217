"""The lease renewer: its own thread and its own database connection.

Not on the event loop, so a loop busy with probes cannot starve it; not on the store's pool, so
a writer waiting on a slow batch cannot either. Each cycle renews what is held, then releases
the excess over the fair share (after others appeared) or claims up to it. A second thread,
the watchdog, gives partitions up at their local deadline even while the renewer is blocked on
a dead connection; the renewer releases them in the database when it reaches it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from agent.cluster import lease
from agent.cluster.holdings import Holdings
from agent.cluster.lease import LeaseConfig
from agent.cluster.sessions import with_session_options

log = logging.getLogger(__name__)

# kind ("claimed", "renewed", "lost", "released"), {partition: epoch}
Listener = Callable[[str, Mapping[int, int]], None]


def renewer_engine(url: str, config: LeaseConfig) -> Engine:
    """A one-connection engine whose every wait is bounded well within the lease time; a
    renewal left open by a cut link is ended by the server as soon (agent/cluster/sessions.py)."""
    bound = max(1, int(config.lease_seconds / 3))
    bounded = with_session_options(
        url,
        statement_timeout=bound * 1000,
        lock_timeout=bound * 1000,
        idle_in_transaction_session_timeout=bound * 1000,
    )
    connect_args = {"connect_timeout": bound, "tcp_user_timeout": bound * 1000}
    return create_engine(bounded, pool_size=1, max_overflow=0, connect_args=connect_args)


class Renewer:
    def __init__(
        self,
        engine: Engine,
        config: LeaseConfig,
        holdings: Holdings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        every: float | None = None,
        margin: float | None = None,
        listener: Listener | None = None,
    ) -> None:
        self._engine = engine
        self.config = config
        self.holdings = holdings
        self._monotonic = monotonic
        self._every = every if every is not None else config.lease_seconds / 3
        # clock-rate error between node and database, and the time a fenced commit may take
        self._margin = margin if margin is not None else max(0.5, config.lease_seconds / 5)
        self._listener = listener
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._to_release: dict[int, int] = {}  # given up locally, not yet released in the db
        self._pending_lock = threading.Lock()  # _to_release: the watchdog adds, the renewer takes
        self._threads: list[threading.Thread] = []
        self._pause = self._every  # until the next cycle: shorter when a lease runs out sooner
        self.cycles_failed = 0

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        with self._engine.begin() as conn:  # fail at start-up on a misconfigured cluster
            lease.ensure_partitions(conn, self.config)
            lease.heartbeat(conn, self.config)
        for name, target in (("lease-renewer", self._run), ("lease-watchdog", self._watch)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Clean shutdown: stop locally, then release everything at once."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join()
        held = self.holdings.drop(list(self.holdings.valid()))
        try:
            with self._engine.begin() as conn:
                released = lease.leave(conn, self.config)
            self._tell("released", {p: e for p, e in held.items() if p in released})
        except SQLAlchemyError as exc:  # the database away: the leases expire by themselves
            log.warning("could not release the partitions at shutdown: %s", exc)
        self._engine.dispose()

    # ---- the renewer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.cycle()
            except SQLAlchemyError as exc:
                self.cycles_failed += 1
                log.warning("lease renewal failed (%s); retrying", type(exc).__name__)
                self._engine.dispose()  # a broken connection is not reused
                self._give_up_expired()
                self._pause = self._every
            self._stop.wait(self._pause)

    def cycle(self) -> None:
        """One renewal round: renew, then rebalance (release the excess or claim the deficit)."""
        started = self._monotonic()
        deadline = started + self.config.lease_seconds - self._margin
        held = self.holdings.valid()
        with self._engine.begin() as conn:
            self._release_given_up(conn)
            lease.heartbeat(conn, self.config)
            renewed = lease.renew(conn, self.config, held)
            share = lease.fair_share(self.config.partitions, lease.live_nodes(conn, self.config))
            runs_out = lease.next_expiry(conn, self.config)
        # a stopped holder's partitions are claimed when its lease runs out, not up to one
        # renewal interval later (the failover time's last third)
        self._pause = self._every if runs_out is None else min(self._every, runs_out + 0.05)
        with self._pending_lock:  # given up by the watchdog meanwhile: released next cycle
            renewed -= set(self._to_release)
        self.holdings.extend({p: held[p] for p in renewed}, deadline)
        lost = self.holdings.drop(p for p in held if p not in renewed)
        self._tell("lost", lost)
        kept = {p: held[p] for p in renewed}
        if len(kept) > share:
            self._release_excess(kept, share)
        elif len(kept) < share:
            with self._engine.begin() as conn:
                claimed = lease.claim(conn, self.config, share - len(kept))
            self.holdings.extend(claimed, deadline)
            self._tell("claimed", claimed)

    def _release_excess(self, kept: Mapping[int, int], share: int) -> None:
        excess = sorted(kept)[share:]
        dropped = self.holdings.drop(excess)  # stop working on them first
        with self._engine.begin() as conn:
            released = lease.release(conn, self.config, dropped)
        self._tell("released", {p: e for p, e in dropped.items() if p in released})

    def _release_given_up(self, conn: Connection) -> None:
        with self._pending_lock:
            pending, self._to_release = self._to_release, {}
        lease.release(conn, self.config, pending)

    def _give_up_expired(self) -> None:
        gone = self.holdings.expired()
        if gone:
            with self._pending_lock:
                self._to_release.update(gone)
            self._tell("lost", gone)

    # ---- the watchdog thread --------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.is_set():
            deadline = self.holdings.next_deadline()
            wait = self._every if deadline is None else max(0.0, deadline - self._monotonic())
            with self._wake:
                self._wake.wait(min(wait, self._every))
            self._give_up_expired()

    def _tell(self, kind: str, partitions: Mapping[int, int]) -> None:
        if partitions and self._listener is not None:
            self._listener(kind, dict(partitions))
