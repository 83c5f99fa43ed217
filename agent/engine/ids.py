"""Incident ids from the database, handed to the engine without a database round trip.

The engine numbers an incident the moment it opens one, on the event loop, where it must not
wait for SQL. So ids are reserved in blocks (`SqlStore.reserve_ids`, a counter row that several
nodes share): the next block is fetched in a thread while half of the current one is left, and
only a burst that empties both (thousands of services failing at once) waits for the database,
with a block twice as large each time. A clean shutdown gives the unused tail back, so a single
node numbers its incidents 1, 2, 3 ... across restarts as it always did; a kill -9 leaves a gap
of at most one block (gaps are allowed, duplicates never).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from itertools import pairwise

log = logging.getLogger(__name__)

Reserve = Callable[[int], range]
GiveBack = Callable[[range], bool]

FIRST_BLOCK = 16
MAX_BLOCK = 1024


class IncidentIds:
    def __init__(self, reserve: Reserve, give_back: GiveBack, block: int = FIRST_BLOCK) -> None:
        self._reserve = reserve
        self._give_back = give_back
        self._block = block
        self._lock = threading.Lock()
        self._ranges: deque[range] = deque()  # reserved, not yet handed out, in order
        self._refilling = False

    def prefetch(self) -> None:
        """Reserve the first block (blocking: call it before the engine runs)."""
        self._add(self._reserve(self._block))

    def __call__(self) -> int:
        with self._lock:
            left = sum(len(r) for r in self._ranges)
            refill = left <= self._block // 2 and not self._refilling
            if refill:
                self._refilling = True
        if left == 0:  # a burst emptied every block: wait for the database, reserve more
            self._block = min(MAX_BLOCK, self._block * 2)
            self._add(self._reserve(self._block))
        elif refill:
            threading.Thread(target=self._refill, name="incident-ids", daemon=True).start()
        with self._lock:
            first = self._ranges[0]
            self._ranges[0] = first[1:]
            if not self._ranges[0]:
                self._ranges.popleft()
            return first[0]

    def close(self) -> None:
        """Give the unused ids back when they are the counter's tail (blocking)."""
        with self._lock:
            ranges, self._ranges = list(self._ranges), deque()
        if not ranges or any(a.stop != b.start for a, b in pairwise(ranges)):
            return
        try:
            self._give_back(range(ranges[0].start, ranges[-1].stop))
        except Exception as exc:  # the database away: a gap in the numbers, nothing worse
            log.warning("could not give back %d unused incident ids: %s", len(ranges), exc)

    def _refill(self) -> None:
        try:
            self._add(self._reserve(self._block))
        except Exception as exc:  # retried at the next id; the current block still serves
            log.warning("could not reserve incident ids: %s", type(exc).__name__)
        finally:
            with self._lock:
                self._refilling = False

    def _add(self, ids: range) -> None:
        with self._lock:
            self._ranges.append(ids)
