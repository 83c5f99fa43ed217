"""Periodic work: one loop for every "do this every N seconds" of the agent, its alerting and a
location's worker. It lives beside `checks.clock` because every package uses it.

A failing round is logged and the loop goes on (the next round may find the database back);
only cancellation ends it, which is how the agent's shutdown stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[object]]


async def every(
    seconds: float,
    action: Action,
    *,
    first_now: bool = True,
    wake: asyncio.Event | None = None,
    settle: float = 0.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    name: str | None = None,
) -> None:
    """Run `action` every `seconds` until cancelled: at once (`first_now`), or after a first
    pause. With `wake`, a pause ends early when the event is set, `settle` seconds later (so a
    burst of wake-ups makes one round), and the event is cleared for the next one."""
    label = name or getattr(action, "__qualname__", repr(action))
    if not first_now:
        await _pause(seconds, wake, settle, sleep)
    while True:
        try:
            await action()
        except Exception:
            log.exception("periodic task %s failed", label)
        await _pause(seconds, wake, settle, sleep)


async def _pause(
    seconds: float,
    wake: asyncio.Event | None,
    settle: float,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    if wake is None:
        await sleep(seconds)
        return
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the task's cancellation when
    # the event is set in the same loop step (a wake-up as the agent stops), and the agent's
    # shutdown then waited for this loop for ever
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
        await sleep(settle)
    wake.clear()
