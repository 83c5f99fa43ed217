"""The agent's periodic store upkeep: roll up what the retention settings say, in small turns.

Each turn is one bounded transaction in a worker thread (`SqlStore.prune`, `SqlStore.compact`);
between turns the loop sleeps `pause`, so the store writer, which needs the same SQLite write
lock, commits its batches in between. A database migrated from before compaction has weeks of
ok results to roll up: the first pass works through them in these turns too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.settings import RetentionSettings
from agent.store.sql import SqlStore

log = logging.getLogger(__name__)


@dataclass
class RetentionPass:
    """What one pass did (logged, and read by the tests)."""

    expired: int = 0  # raw results older than raw_retention_days, rolled up
    rolled_up: int = 0  # ok results older than retention.raw_ok, rolled up
    kept: int = 0  # raw results compaction looked at and kept
    turns: int = 0  # transactions


async def run_retention(
    store: SqlStore,
    now: Callable[[], datetime],
    raw_retention_days: float,
    settings: RetentionSettings,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RetentionPass:
    done = RetentionPass()
    while True:
        n = await asyncio.to_thread(store.prune, now(), raw_retention_days, settings.batch)
        done.expired += n
        done.turns += 1
        if n < settings.batch:
            break
        await sleep(settings.pause)
    age = timedelta(seconds=settings.raw_ok)
    while True:
        step = await asyncio.to_thread(store.compact, now(), age, settings.batch)
        done.rolled_up += step.rolled_up
        done.kept += step.kept
        done.turns += 1
        if step.done:
            break
        await sleep(settings.pause)
    if done.expired or done.rolled_up:
        log.info(
            "store retention: %d expired and %d ok results rolled up, %d kept raw, %d turns",
            done.expired,
            done.rolled_up,
            done.kept,
            done.turns,
        )
    return done
