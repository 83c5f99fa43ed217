"""`vigia run`: the agent, until SIGTERM/SIGINT; SIGHUP reloads the catalogue."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import ctypes.util
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from agent.catalog.model import Catalog
from agent.cluster.errors import SecondNodeError
from agent.cluster.single_node import SingleNodeLock, sqlite_path
from agent.commands.common import CommandError, guarded, open_catalog, open_store
from agent.runtime import Agent
from agent.sdnotify import Notifier
from agent.server import ListenError
from agent.settings import Settings
from agent.store.url import database_url
from alerting.errors import RulesError
from alerting.rule_file import load_rules
from checks.clock import SystemClock

log = logging.getLogger(__name__)

GC_THRESHOLDS = (50_000, 20, 10)  # young collection every 50,000 net allocations (default 700)
WARM_UP_MARGIN_SECONDS = 30.0
WARM_UP_CAP_SECONDS = 1800.0  # a catalogue of daily checks still freezes within half an hour
M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD_BYTES = 1 << 20  # allocations from 1 MiB up get their own mapping
ARENA_MAX = 2
TRIM_EVERY_SECONDS = 10.0  # malloc_trim: returns the free pages inside the heap to the system


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("run", help="run the agent")
    parser.add_argument("--listen", help="HOST:PORT for /metrics and /healthz")
    parser.set_defaults(handler=guarded(handle))


def handle(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    catalog = open_catalog(settings)
    try:
        load_rules(settings.alert_rules)  # fail before starting anything, with every error
    except RulesError as exc:
        raise CommandError(f"invalid alert rules:\n{exc}") from None
    if settings.cluster is not None and sqlite_path(database_url(settings.db)) is not None:
        raise CommandError(
            "cluster: several core nodes need PostgreSQL (db: postgresql://...); this "
            "database is SQLite, which runs one node: remove the cluster section"
        )
    node_lock = _single_node_lock(settings)
    store = open_store(settings)
    agent = Agent(
        settings=settings,
        catalog=catalog,
        store=store,
        clock=SystemClock(),
        reread_settings=getattr(args, "reread_settings", None),
    )
    tune_gc()
    tune_malloc()
    try:
        run_agent(agent)
    except ListenError as exc:
        log.error("%s", exc)
        return 1
    finally:
        store.close()
        if node_lock is not None:
            node_lock.release()
    return 0


def _single_node_lock(settings: Settings) -> SingleNodeLock | None:
    """On SQLite, refuse to be the second node (exit 2); PostgreSQL coordinates by leases."""
    path = sqlite_path(database_url(settings.db))
    if path is None:
        return None
    lock = SingleNodeLock(path)
    try:
        lock.acquire()
    except SecondNodeError as exc:
        raise CommandError(str(exc)) from None
    except OSError:  # the folder is missing or read-only: open_store names that problem
        return None
    return lock


def tune_gc() -> None:
    """The cyclic GC cost ~18 % of a core at 10,000 services (gc.callbacks, bench/RESULTS.md
    "Scale"): every httpx request leaves ~37 objects in reference cycles, and with the default
    young-generation threshold (700 allocations) most of a probe's objects were still alive at
    a young collection, so they were promoted and only freed by full collections, each walking
    the whole heap. A larger young generation lets a probe's cycles die young; what exists at
    start-up (modules, the catalogue) is taken out of the scans, as it lives as long as the
    agent."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def warm_up_seconds(catalog: Catalog) -> float:
    """By then every check has run once, so the agent's long-lived state exists: one round of
    the longest interval, its probe's timeout, and a margin for a slow start."""
    checks = catalog.checks.values()
    longest = max((c.interval + c.timeout for c in checks), default=0.0)
    return min(WARM_UP_CAP_SECONDS, longest + WARM_UP_MARGIN_SECONDS)


def freeze_survivors() -> None:
    """Once warm, take the agent's long-lived state (engine, alerting and metrics state of every
    service, pooled connections) out of the cyclic GC's scans as `tune_gc` did for start-up's:
    full collections walked ~380,000 such objects at 10,000 services and stalled the loop for
    ~0.5 s each (gc.callbacks, bench/RESULTS.md "Scale"). A collection first, so no garbage is
    frozen; frozen objects are still freed when their last reference goes."""
    gc.collect()
    gc.freeze()


def tune_malloc() -> None:
    """glibc only (elsewhere nothing to do). Large transient buffers (the /metrics body, ~25 MB
    at 10,000 services, and the store-derived metrics text built in a worker thread) raised
    glibc's dynamic mmap threshold, so later ones came from the heap and, once freed, stayed
    in it: 120 MB of 167 MB held by malloc were free (malloc_stats, bench/RESULTS.md "Scale").
    A fixed threshold keeps such buffers in their own mappings, returned to the system when
    freed, and two arenas keep each worker thread from holding its own free memory."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return
    # An operator's own setting (the unit's Environment=, docs/operations.md "Sizing") stands:
    # e.g. a threshold under 256 KiB puts each TLS connection's read buffer (uvloop's) in its
    # own mapping, of which only the touched pages count.
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(M_ARENA_MAX, ARENA_MAX)
    if hasattr(libc, "malloc_trim"):
        start_trimming(libc.malloc_trim, TRIM_EVERY_SECONDS)


def start_trimming(trim: Callable[[int], int], every: float) -> threading.Thread:
    """glibc returns only the heap's top to the system when memory is freed; free pages
    between live blocks (around uvloop's 256 KiB TLS read buffers, one per connection) stay
    resident. `malloc_trim(0)` every few seconds gives them back: peak RSS at 10,000 services
    with reuse_connection on 2,000 TLS origins 496 -> 450 MB (bench/RESULTS.md, "Issue #18
    item 4"). A thread of its own: the call takes milliseconds and releases the GIL."""

    def trim_forever() -> None:
        while True:
            time.sleep(every)
            trim(0)

    thread = threading.Thread(target=trim_forever, name="vigia-malloc-trim", daemon=True)
    thread.start()
    return thread


def run_agent(agent: Agent) -> None:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_main(agent))


async def _main(agent: Agent) -> None:
    loop = asyncio.get_running_loop()
    notifier = Notifier()
    loop.call_later(warm_up_seconds(agent.catalog), freeze_survivors)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stopper(agent, notifier))
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(_reload(agent, notifier)))
    systemd = asyncio.ensure_future(_tell_systemd(agent, notifier))
    try:
        await agent.run()
    finally:
        systemd.cancel()


def _stopper(agent: Agent, notifier: Notifier) -> Callable[[], None]:
    def stop() -> None:
        notifier.notify("STOPPING=1")
        agent.stop.set()

    return stop


async def _tell_systemd(agent: Agent, notifier: Notifier) -> None:
    if not notifier.enabled:
        return
    await agent.started.wait()
    notifier.notify("READY=1")
    await notifier.keep_alive()


async def _reload(agent: Agent, notifier: Notifier) -> None:
    # MONOTONIC_USEC: systemd (Type=notify-reload) matches the reload to this message
    notifier.notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
    try:
        await agent.reload()
    finally:
        notifier.notify("READY=1")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (measured: probes cost 15-20 % less CPU), else asyncio's."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
