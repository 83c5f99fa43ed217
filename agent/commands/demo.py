"""`vigia demo`: the agent on a simulated estate on loopback, for a first look with no network."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from pathlib import Path

from agent.access.tokens import hash_token, new_token
from agent.catalog.loader import load
from agent.catalog.model import Catalog
from agent.commands import report
from agent.commands.common import CommandError, guarded, open_catalog
from agent.demo.estate import Estate
from agent.demo.scenario import CYCLE_SECONDS, SCRIPT, demo_catalog_yaml
from agent.runtime import Agent
from agent.server import ListenError
from agent.settings import Settings, TokenEntry
from agent.store.sql import SqlStore
from agent.store.url import data_dir, database_url
from checks.clock import SystemClock

NARRATE_EVERY = 1.0


def _fresh_demo_db(workdir: Path) -> str:
    """Each demo starts on an empty database: a first look should not inherit the last run's
    outages (only the demo's own file is removed; an explicit --db is used as it is)."""
    path = workdir / "demo.db"
    for leftover in (path, path.with_name("demo.db-wal"), path.with_name("demo.db-shm")):
        leftover.unlink(missing_ok=True)
    return str(path)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="run the agent on a simulated estate on loopback")
    parser.add_argument("--listen", help="HOST:PORT for /metrics and /healthz")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.set_defaults(handler=guarded(handle))


def handle(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    shipped = open_catalog(settings)
    workdir = data_dir() / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    db = settings.db or _fresh_demo_db(workdir)
    try:
        asyncio.run(_demo(settings, shipped, workdir, db, args.duration))
    except ListenError as exc:
        raise CommandError(f"{exc}; choose another with --listen HOST:PORT") from None
    return 0


async def _demo(
    settings: Settings, shipped: Catalog, workdir: Path, db: str, duration: float | None
) -> None:
    depends = {s.id: s.depends_on for s in shipped.services}
    estate = Estate(SCRIPT, depends, CYCLE_SECONDS, time.monotonic)
    await estate.start()
    catalog_path = workdir / "catalog.yaml"
    catalog_path.write_text(demo_catalog_yaml(shipped, estate.port), encoding="utf-8")
    catalog = load(catalog_path)
    store = await asyncio.to_thread(SqlStore.open, database_url(db))
    token = new_token()  # this run's way into the console; only its hash is kept
    demo_token = TokenEntry(name="demo", role="operator", hash=hash_token(token))
    demo_settings = settings.model_copy(
        update={"catalog": str(catalog_path), "db": db, "tokens": (*settings.tokens, demo_token)}
    )
    agent = Agent(settings=demo_settings, catalog=catalog, store=store, clock=SystemClock())
    _intro(demo_settings, estate, catalog_path, db, token)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, agent.stop.set)
    loop.add_signal_handler(signal.SIGTERM, agent.stop.set)
    if duration is not None:
        loop.call_later(duration, agent.stop.set)
    narrator = asyncio.create_task(_narrate(agent, estate))
    try:
        await agent.run()
    finally:
        narrator.cancel()
        await estate.close()
        await asyncio.to_thread(store.close)
    print("\nvigia demo stopped. The monthly report of what it did:")
    _write_report(demo_settings, workdir / "report")
    print("Look at what was recorded:")
    print(f"  vigia --catalog {catalog_path} --db {db} incidents")
    month = time.strftime("%Y-%m")
    print(f"  vigia --catalog {catalog_path} --db {db} status")
    print(f"  vigia --catalog {catalog_path} --db {db} indicators --period {month}")


def _write_report(settings: Settings, out: Path) -> None:
    month = time.strftime("%Y-%m")
    options = {"month": month, "out": out, "format": "html", "lang": "pt"}
    report.handle_monthly(argparse.Namespace(settings=settings, **options))


def _intro(settings: Settings, estate: Estate, catalog: Path, db: str, token: str) -> None:
    host_port = settings.listen
    print("vigia demo — a simulated estate on loopback, probed every 5 s")
    print(f"  console     http://{host_port}/  (sign in with this run's operator token:")
    print(f"              {token} )")
    print(f"  estate      http://127.0.0.1:{estate.port}/<service>/health")
    print(f"  catalogue   {catalog}")
    print(f"  database    {db} (SQLite)")
    print(f"  metrics     http://{host_port}/metrics")
    print(f"  health      http://{host_port}/healthz")
    print("  script (every 10 min):")
    for fault in SCRIPT:
        print(f"    +{fault.start:>3.0f}s..{fault.end:>3.0f}s  {fault.note}")
    print("  Ctrl-C stops cleanly.\n")


async def _narrate(agent: Agent, estate: Estate) -> None:
    """Print every service state change and incident as it happens."""
    seen: dict[str, str] = {}
    alerts: dict[str, str] = {}
    while True:
        await asyncio.sleep(NARRATE_EVERY)
        if not agent.running:
            continue
        _narrate_alerts(agent, alerts)
        for service in agent.catalog.monitored:
            status = agent.engine.service_status(service.id)
            state = status.state.value
            before = seen.get(service.id)
            if before != state:
                if before not in (None, "unknown") or state not in ("up", "unknown"):
                    print(_line(agent, service.id, state, estate), flush=True)
                seen[service.id] = state


def _narrate_alerts(agent: Agent, seen: dict[str, str]) -> None:
    """New, changed and resolved alerts, as the CCO would receive (or not: inhibited) them."""
    current = {a.alert_id: a for a in agent.alerting.evaluator.alerts.values()}
    for alert_id, alert in current.items():
        if seen.get(alert_id) != alert.state and alert.rule != "Watchdog":
            summary = alert.annotations.get("summary", "")
            print(f"{time.strftime('%H:%M:%S')}   alert {alert.state:22} {alert_id}: {summary}")
            seen[alert_id] = alert.state
    for alert_id in [a for a in seen if a not in current]:
        print(f"{time.strftime('%H:%M:%S')}   alert {'resolved':22} {alert_id}")
        del seen[alert_id]


def _line(agent: Agent, service: str, state: str, estate: Estate) -> str:
    incident = agent.engine.open_incident(service)
    note = ""
    if incident is not None:
        note = f"  incident #{incident.id} since {incident.started_at:%H:%M:%S}"
        if incident.root_cause:
            note += f", root cause {incident.root_cause} (alert inhibited)"
    stamp = time.strftime("%H:%M:%S")
    return f"{stamp} [+{estate.elapsed():>3.0f}s] {service:24} -> {state.upper():9}{note}"
