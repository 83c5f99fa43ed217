"""`vigia run`: the agent, until SIGTERM/SIGINT; SIGHUP reloads the catalogue."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable

from agent.commands.common import CommandError, guarded, open_catalog, open_store
from agent.runtime import Agent
from agent.server import ListenError
from agent.settings import Settings
from alerting.errors import RulesError
from alerting.rules import load_rules
from checks.clock import SystemClock

log = logging.getLogger(__name__)


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
    store = open_store(settings)
    agent = Agent(settings=settings, catalog=catalog, store=store, clock=SystemClock())
    try:
        run_agent(agent)
    except ListenError as exc:
        log.error("%s", exc)
        return 1
    finally:
        store.close()
    return 0


def run_agent(agent: Agent) -> None:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_main(agent))


async def _main(agent: Agent) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, agent.stop.set)
    loop.add_signal_handler(signal.SIGINT, agent.stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(agent.reload()))
    await agent.run()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (measured: probes cost 15-20 % less CPU), else asyncio's."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
