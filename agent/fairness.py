"""Split the in-flight budget so thousands of hanging probes cannot starve the ones that matter.

During a partition every probe to the unreachable network runs out its whole timeout and,
behind one shared cap, healthy checks queue behind them for tens of seconds. So:

- probes of a *suspect* host (one of its probes used its whole timeout this round) hold at
  most SUSPECT_SHARE of the budget, and run with a shortened timeout;
- checks below the top tier hold at most 1 - RESERVED_SHARE of it, so the top tier (platina)
  always finds a free slot;
- a host's own cap (`HostGate`) is taken before any of those, so a probe queued behind its
  host holds none of the shared budget, and the top tier is served first when a host slot
  frees: a platina check next to a hung service on the same host waits one probe, not the
  whole queue.

All slots are taken in one order (suspect, general, total), so waiting never deadlocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools

from agent.catalog.model import Check

TOP_TIER = "platina"
RESERVED_SHARE = 0.25  # of max_in_flight, kept for the top tier
SUSPECT_SHARE = 0.25  # of max_in_flight, the most that suspect hosts' probes may hold
SHORT_TIMEOUT_FACTOR = 0.25  # a suspect host's probes get this share of their timeout ...
SHORT_TIMEOUT_MIN = 0.5  # ... but never less than this many seconds
TIMED_OUT_AT = 0.95  # a probe that ran this share of its timeout is taken as timed out


class Budget:
    def __init__(self, max_in_flight: int) -> None:
        reserved = int(max_in_flight * RESERVED_SHARE)
        self._total = asyncio.Semaphore(max_in_flight)
        self._general = asyncio.Semaphore(max(1, max_in_flight - reserved))
        self._suspect = asyncio.Semaphore(max(1, int(max_in_flight * SUSPECT_SHARE)))
        self._suspects: dict[str, float] = {}  # host -> loop time until which it is suspect
        self._interval: dict[str, float] = {}  # host -> the interval of its last probe

    def is_suspect(self, host: str | None) -> bool:
        if host is None:
            return False
        until = self._suspects.get(host)
        return until is not None and asyncio.get_running_loop().time() < until

    async def acquire(
        self, host: str | None, tier: str, interval: float, timeout: float
    ) -> tuple[float, list[asyncio.Semaphore]]:
        """Take the slots for one probe: the timeout it should run with, and what to release.
        (Plain acquires, not a context manager: this runs for every probe, 1,000 a second.)"""
        suspect = self.is_suspect(host)
        if host is not None:
            self._interval[host] = interval
        held: list[asyncio.Semaphore] = []
        try:
            for sem, wanted in (
                (self._suspect, suspect),
                (self._general, tier != TOP_TIER),
                (self._total, True),
            ):
                if wanted:
                    await sem.acquire()
                    held.append(sem)
        except BaseException:
            self.release(held)
            raise
        # re-read: the host may have timed out while this probe waited
        if suspect or self.is_suspect(host):
            return min(timeout, max(SHORT_TIMEOUT_MIN, timeout * SHORT_TIMEOUT_FACTOR)), held
        return timeout, held

    @staticmethod
    def release(held: list[asyncio.Semaphore]) -> None:
        for sem in held:
            sem.release()

    def finished(self, host: str | None, elapsed: float, timeout: float) -> None:
        """A probe of `host` ran `elapsed` s of its `timeout`: suspect it for one round if it
        used it all, clear it if it answered in time."""
        if host is None:
            return
        if elapsed >= timeout * TIMED_OUT_AT:
            now = asyncio.get_running_loop().time()
            self._suspects[host] = now + self._interval.get(host, timeout)
        else:
            self._suspects.pop(host, None)

    @staticmethod
    def with_timeout(check: Check, timeout: float) -> Check:
        if timeout >= check.timeout:
            return check
        return dataclasses.replace(check, timing=dataclasses.replace(check.timing, timeout=timeout))


class HostGate:
    """At most `limit` probes to one host at a time; waiters served top tier first, then in
    arrival order."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, tier: str) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        rank = 0 if tier == TOP_TIER else 1
        heapq.heappush(self._waiting, (rank, next(self._order), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed a slot in the same step it was cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)  # the slot passes straight to the next waiter
                return
        self._free += 1
