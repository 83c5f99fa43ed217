"""The agent as one composition root: every part exists once it is built, `async with` starts
them in order and stops them in the reverse order (a failed start undoes what it started),
and probe results fan out to subscribers. A real agent on real SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.agent_view import live_alerts, live_calendar, live_engine
from agent.api.context import live
from agent.catalog.loader import load
from agent.engine import Engine
from agent.lifecycle import Phase
from agent.maintenance import MaintenanceCalendar
from agent.records import State
from agent.runtime import Agent
from agent.settings import Settings
from agent.store.sql import SqlStore
from agent.store.writer import StoreWriter
from alerting.service import AlertingService
from checks.clock import SystemClock
from checks.result import Outcome, ProbeResult
from tests.api.conftest import CATALOG

Steps = list[str]


def build(tmp_path: Path) -> tuple[Agent, SqlStore]:
    catalog_path = tmp_path / "services.yaml"
    catalog_path.write_text(CATALOG, encoding="utf-8")
    db = tmp_path / "vigia.db"
    settings = Settings(catalog=str(catalog_path), db=str(db))
    store = SqlStore.open(f"sqlite:///{db}")
    return Agent(settings, load(catalog_path), store, SystemClock(), serve_http=False), store


def spy_async(
    steps: Steps, name: str, real: Callable[..., Coroutine[Any, Any, Any]]
) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def recorded(*args: Any) -> Any:
        steps.append(name)
        return await real(*args)

    return recorded


def watch_shutdown(agent: Agent) -> Steps:
    """Record the order in which the real parts are stopped (each still does its work)."""
    steps: Steps = []
    agent.scheduler.shutdown = spy_async(steps, "scheduler", agent.scheduler.shutdown)  # type: ignore[method-assign]
    agent.alerting.aclose = spy_async(steps, "alerting", agent.alerting.aclose)  # type: ignore[method-assign]
    agent.writer.aclose = spy_async(steps, "writer", agent.writer.aclose)  # type: ignore[method-assign]
    http = agent.probes.http  # the probe context is frozen: its HTTP pool is what it closes
    http.aclose = spy_async(steps, "probes", http.aclose)  # type: ignore[method-assign]
    close_ids = agent.incident_ids.close

    def ids() -> None:
        steps.append("incident ids")
        close_ids()

    agent.incident_ids.close = ids  # type: ignore[method-assign]
    return steps


def failure(check: str, at: datetime) -> ProbeResult:
    return ProbeResult(check, at, 0.1, Outcome.FAIL, "HTTP 503")


async def test_every_part_exists_before_the_agent_starts(tmp_path: Path) -> None:
    agent, store = build(tmp_path)
    try:
        assert isinstance(agent.engine, Engine)
        assert isinstance(agent.calendar, MaintenanceCalendar)
        assert isinstance(agent.alerting, AlertingService)
        assert isinstance(agent.writer, StoreWriter)
        assert agent.phase is Phase.BUILT and not agent.running
        # not running: the views read the store's copy, said in one place
        assert live_engine(agent) is None and live_calendar(agent) is None
        assert live_alerts(agent) is None
        assert not (await live(agent)).running
    finally:
        store.close()


async def test_async_with_runs_the_agent_and_stops_its_parts_in_reverse_order(
    tmp_path: Path,
) -> None:
    agent, store = build(tmp_path)
    steps = watch_shutdown(agent)
    try:
        async with agent:
            assert agent.started.is_set() and agent.running
            assert live_engine(agent) is agent.engine and (await live(agent)).running
            assert steps == []
        assert agent.phase is Phase.STOPPED
        # probing stops first; the alerting's last flush goes through the writer; the writer
        # commits everything (incidents take their ids) before the ids are given back
        assert steps == ["scheduler", "alerting", "writer", "incident ids", "probes"]
    finally:
        store.close()


async def test_a_failed_start_undoes_the_steps_it_took(tmp_path: Path) -> None:
    agent, store = build(tmp_path)
    steps = watch_shutdown(agent)

    async def refused() -> None:
        raise RuntimeError("the alerting could not start")

    agent.alerting.start = refused  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError, match="could not start"):
            async with agent:
                pytest.fail("the agent ran without its alerting")
        assert steps == ["writer", "incident ids", "probes"]  # what had started, reversed
        assert not agent.started.is_set() and agent.phase is Phase.STOPPED
    finally:
        store.close()


async def test_the_engine_resumes_the_stored_state_when_the_agent_starts(
    tmp_path: Path,
) -> None:
    first, store = build(tmp_path)
    at = datetime.now(UTC) - timedelta(minutes=10)
    async with first:
        first.observe(failure("mail/heartbeat", at), "heartbeat")
        first.observe(failure("mail/heartbeat", at + timedelta(seconds=30)), "heartbeat")
    store.close()

    again, store = build(tmp_path)
    try:
        assert (await live(again)).service("mail").state is State.DOWN  # the store's copy
        async with again:
            assert again.engine.service_status("mail").state is State.DOWN
            assert again.engine.open_incident("mail") is not None
    finally:
        store.close()


async def test_results_fan_out_to_every_subscriber_until_it_unsubscribes(
    tmp_path: Path,
) -> None:
    agent, store = build(tmp_path)
    seen: dict[str, list[str]] = {"board": [], "narrator": []}
    try:
        async with agent:
            agent.subscribe(lambda result: seen["board"].append(result.check))
            leave = agent.subscribe(lambda result: seen["narrator"].append(result.check))
            at = datetime.now(UTC)
            agent.observe(failure("mail/heartbeat", at), "heartbeat")
            leave()
            agent.observe(failure("portal/heartbeat", at), "heartbeat")
            await asyncio.sleep(0)
        assert seen == {
            "board": ["mail/heartbeat", "portal/heartbeat"],
            "narrator": ["mail/heartbeat"],
        }
    finally:
        store.close()
