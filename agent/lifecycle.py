"""The agent's lifecycle: its phases, and the background tasks it owns while it runs.

Every part of the agent exists from the moment the agent is built; the phase says whether
they hold the live state (restored from the store at start) or not yet (or no longer).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable


class Phase(enum.Enum):
    BUILT = "built"  # every part constructed, nothing started, no state read
    STARTING = "starting"  # state read from the store, parts starting in order
    RUNNING = "running"
    STOPPING = "stopping"  # parts stopping in the reverse order
    STOPPED = "stopped"

    @property
    def live(self) -> bool:
        """The engine, the calendar and the alerting hold the live state."""
        return self in (Phase.RUNNING, Phase.STOPPING)


class Tasks:
    """Background work started while the agent runs, cancelled together at its shutdown."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, work: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(work))

    async def aclose(self) -> None:
        """Cancel every task and wait for each; a task's own failure is its log's business."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
