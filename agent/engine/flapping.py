"""Flapping detection, the Nagios method (semantics.md §2).

The last 21 instant states; each transition between consecutive entries is weighted linearly
from 0.75 (oldest) to 1.25 (newest), and percent = weighted transitions x 100 / 20. A shorter
history is aligned on the newest entry, as if padded with its oldest state (no transitions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

HISTORY = 21
_LOW, _HIGH = 0.75, 1.25


def percent_change(states: Sequence[str]) -> float:
    recent = list(states)[-HISTORY:]
    offset = HISTORY - len(recent)
    weighted = 0.0
    for i in range(1, len(recent)):
        if recent[i] != recent[i - 1]:
            x = i + offset  # 1 = oldest transition slot, 20 = newest
            weighted += _LOW + (x - 1) * (_HIGH - _LOW) / (HISTORY - 2)
    return weighted * 100 / (HISTORY - 1)


@dataclass
class FlapDetector:
    history: list[str] = field(default_factory=list)
    flapping: bool = False

    def add(self, state: str, start: float, stop: float) -> tuple[bool, float]:
        """Record one instant state; returns (flapping changed, percent)."""
        self.history = [*self.history, state][-HISTORY:]
        percent = percent_change(self.history)
        if not self.flapping and percent >= start:
            self.flapping = True
            return True, percent
        if self.flapping and percent <= stop:
            self.flapping = False
            return True, percent
        return False, percent
