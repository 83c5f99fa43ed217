"""How the API, the console and the status page read the running agent: the live view of
services and checks (the engine's memory while it runs, else the store's copy), and blocking
store work run off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from agent.agent_view import AgentView, live_engine
from agent.catalog.model import Catalog
from agent.records import CheckStatus, Incident, ServiceStatus, State
from agent.store.sql import SqlStore

T = TypeVar("T")


def sql_store(agent: AgentView) -> SqlStore:
    store = agent.store
    if not isinstance(store, SqlStore):  # alert state and the audit log are SQL tables
        raise TypeError(f"the API needs an SqlStore, not {type(store).__name__}")
    return store


async def blocking(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking store work off the event loop."""
    return await asyncio.to_thread(work, *args, **kwargs)


class Live:
    """The live view of services and checks: the engine when it runs, else the store's copy."""

    def __init__(self, agent: AgentView, stored: dict[str, ServiceStatus] | None = None) -> None:
        self.catalog: Catalog = agent.catalog
        self._engine = live_engine(agent)
        self._stored = stored or {}

    @property
    def running(self) -> bool:
        return self._engine is not None

    def service(self, sid: str) -> ServiceStatus:
        if self._engine is not None and sid in self.catalog.by_id:
            status: ServiceStatus = self._engine.service_status(sid)
            return status
        return self._stored.get(sid) or ServiceStatus(sid, State.UNKNOWN, None, None)

    def check(self, cid: str) -> CheckStatus | None:
        if self._engine is None or cid not in self.catalog.checks:
            return None
        status: CheckStatus = self._engine.check_status(cid)
        return status

    def locations(self, cid: str) -> dict[str, CheckStatus]:
        """Each location's own hard state of the check (only while the engine runs)."""
        if self._engine is None or cid not in self.catalog.checks:
            return {}
        statuses: dict[str, CheckStatus] = self._engine.location_statuses(cid)
        return statuses

    def open_incident(self, sid: str) -> Incident | None:
        if self._engine is None or sid not in self.catalog.by_id:
            return None
        incident: Incident | None = self._engine.open_incident(sid)
        return incident


async def live(agent: AgentView) -> Live:
    if agent.running:
        return Live(agent)
    return Live(agent, await blocking(agent.store.service_statuses))
