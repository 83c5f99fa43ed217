"""`vigia probe`: a location's probe worker, until SIGTERM/SIGINT (issue #14).

    vigia probe --location porto --core https://core:9330 --token "$VIGIA_PROBE_TOKEN"

Every option can come from the `worker:` section of vigia.yaml instead; a flag wins. The token
may also come from the environment variable VIGIA_PROBE_TOKEN, so it never shows in `ps`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from agent.commands.common import CommandError, guarded
from agent.commands.run import _loop_factory, tune_gc
from agent.locations.core_client import CoreClient
from agent.locations.spool import Spool
from agent.locations.worker import ProbeWorker, WorkerOptions
from agent.sdnotify import Notifier
from agent.server import ListenError, create_app, serve
from agent.settings import Settings, WorkerEntry
from agent.store.url import data_dir
from checks.clock import SystemClock

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "VIGIA_PROBE_TOKEN"
_FLAGS = ("location", "core", "token", "ca_file", "spool", "spool_hours")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "probe",
        help="run as a location's probe worker, reporting to a core",
        description="Probe a location's checks and push the results to the core (outbound "
        "HTTPS only). Options default to the `worker:` section of the settings file.",
    )
    parser.add_argument("--location", help="this worker's location, as the core names it")
    parser.add_argument("--core", help="the core's URL, e.g. https://core:9330")
    parser.add_argument("--token", help=f"the location's probe token (or ${TOKEN_VARIABLE})")
    parser.add_argument("--ca-file", help="PEM CA that signed the core's certificate")
    parser.add_argument("--spool", help="the spool file (default: in the user data directory)")
    parser.add_argument("--spool-hours", type=float, help="results kept while the core is away")
    parser.add_argument("--listen", help="HOST:PORT for the worker's /healthz and /metrics")
    parser.set_defaults(handler=guarded(handle))


def worker_entry(
    args: argparse.Namespace, settings: Settings, environ: dict[str, str]
) -> WorkerEntry:
    """The `worker:` settings with the flags over them, checked as the settings are."""
    values: dict[str, Any] = settings.worker.model_dump() if settings.worker else {}
    for name in _FLAGS:
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    if getattr(args, "listen", None):
        values["listen"] = args.listen
    values.setdefault("token", environ.get(TOKEN_VARIABLE) or None)
    if not values.get("listen") and environ.get("VIGIA_LISTEN"):  # the container's health port
        values["listen"] = environ["VIGIA_LISTEN"]
    missing = [n for n in ("location", "core", "token") if not values.get(n)]
    if missing:
        raise CommandError(
            f"vigia probe needs {', '.join('--' + n for n in missing)} "
            "(or the settings' worker: section)"
        )
    try:
        return WorkerEntry.model_validate(values)
    except ValueError as exc:
        raise CommandError(f"invalid worker settings: {exc}") from None


def handle(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    entry = worker_entry(args, settings, dict(os.environ))
    spool_path = entry.spool or str(data_dir() / f"spool-{entry.location}.db")
    try:
        spool = Spool(spool_path, horizon=entry.spool_hours * 3600)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot open the spool {spool_path}: {exc}") from None
    options = WorkerOptions(
        location=entry.location,
        push_every=entry.push_every,
        assignment_every=entry.assignment_every,
        max_in_flight=settings.max_in_flight,
        max_per_host=settings.max_per_host,
    )
    tune_gc()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_main(entry, options, spool))
    except ListenError as exc:
        log.error("%s", exc)
        return 1
    finally:
        spool.close()
    return 0


async def _main(entry: WorkerEntry, options: WorkerOptions, spool: Spool) -> None:
    try:
        client = CoreClient(entry.core, entry.token, entry.ca_file)
    except OSError as exc:  # the CA file is missing or unreadable
        raise CommandError(f"cannot use the CA file {entry.ca_file}: {exc}") from None
    registry = CollectorRegistry()
    worker = ProbeWorker(options, client, spool, SystemClock(), registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stopper(stop))
    # SIGHUP (systemctl reload): ask the core for the assignment now, not at the next poll
    loop.add_signal_handler(
        signal.SIGHUP, lambda: asyncio.ensure_future(worker.refresh_assignment())
    )
    side = [asyncio.ensure_future(_tell_systemd(worker))]
    if entry.listen:
        app = create_app(registry, worker.health)
        side.append(asyncio.ensure_future(serve(app, entry.listen, stop)))
    try:
        await worker.run(stop)
    finally:
        for task in side:
            task.cancel()
        await asyncio.gather(*side, return_exceptions=True)


def _stopper(stop: asyncio.Event) -> Callable[[], None]:
    def stopping() -> None:
        Notifier().notify("STOPPING=1")
        stop.set()

    return stopping


async def _tell_systemd(worker: ProbeWorker) -> None:
    """READY at once (waiting for an unreachable core is not a failed start); the Watchdog
    while the spool can be written: a restart cures a stalled loop, not an absent core."""
    notifier = Notifier()
    if not notifier.enabled:
        return
    notifier.notify("READY=1")
    await notifier.keep_alive(lambda: not worker.spool_error)
