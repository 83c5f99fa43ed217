"""The partitions this node may work on now, each valid until a local monotonic deadline.

A deadline is the start of the renewal that extended the lease plus the lease time minus a
margin: the database's expiry was set later than that start, so a node that stops at its local
deadline stops before its lease can expire and be claimed by another node. Validity is judged
by the clock alone, so a renewer stuck on a dead connection cannot keep a partition alive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping


class Holdings:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._held: dict[int, tuple[int, float]] = {}  # partition -> (epoch, deadline)

    def epoch(self, partition: int) -> int | None:
        """The epoch to fence with, or None when this node must not work on `partition`."""
        with self._lock:
            entry = self._held.get(partition)
        if entry is None or self._monotonic() >= entry[1]:
            return None
        return entry[0]

    def valid(self) -> dict[int, int]:
        now = self._monotonic()
        with self._lock:
            return {p: epoch for p, (epoch, deadline) in self._held.items() if now < deadline}

    def extend(self, held: Mapping[int, int], deadline: float) -> None:
        with self._lock:
            for partition, epoch in held.items():
                self._held[partition] = (epoch, deadline)

    def drop(self, partitions: Iterable[int]) -> dict[int, int]:
        with self._lock:
            gone = {p: self._held.pop(p) for p in list(partitions) if p in self._held}
        return {p: epoch for p, (epoch, _) in gone.items()}

    def expired(self) -> dict[int, int]:
        """Remove and return the partitions past their deadline."""
        now = self._monotonic()
        with self._lock:
            late = [p for p, (_, deadline) in self._held.items() if now >= deadline]
            gone = {p: self._held.pop(p)[0] for p in late}
        return gone

    def next_deadline(self) -> float | None:
        with self._lock:
            return min((deadline for _, deadline in self._held.values()), default=None)
