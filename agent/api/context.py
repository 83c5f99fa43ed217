"""What the API and the console read from the running agent, and how they ask for auth.

The live state board reads the engine's memory (on the event loop); everything else reads the
store, in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.access.failures import client_address
from agent.access.tokens import AuthError, Principal, Role, authorize, probe_entries
from agent.agent_view import AgentView, live_engine
from agent.catalog.model import Catalog
from agent.records import CheckStatus, Incident, ServiceStatus, State
from agent.store.sql import SqlStore

T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="a token made by `vigia token create`")


def agent_of(request: Request) -> AgentView:
    agent: AgentView = request.app.state.vigia_agent
    return agent


def sql_store(agent: AgentView) -> SqlStore:
    store = agent.store
    if not isinstance(store, SqlStore):  # alert state and the audit log are SQL tables
        raise TypeError(f"the API needs an SqlStore, not {type(store).__name__}")
    return store


async def blocking(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking store work off the event loop."""
    return await asyncio.to_thread(work, *args, **kwargs)


def now(agent: AgentView) -> datetime:
    return agent.clock.now()


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


# ---- auth dependencies --------------------------------------------------------------------


def require(role: Role) -> Callable[..., Principal]:
    """A dependency: the caller's principal if its bearer token has at least `role`."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        agent = agent_of(request)
        settings, failures = agent.settings, agent.auth_failures
        client = client_address(request.client.host if request.client else None)
        token = credentials.credentials if credentials else None
        wait = failures.retry_after(client) if token else None
        if wait is not None:
            raise AuthError(429, f"too many failed attempts; retry in {wait:.0f} s", wait)
        try:
            entries = (*settings.tokens, *probe_entries(settings.locations))
            return authorize(token, entries, role, settings.anonymous_board)
        except AuthError as exc:
            if exc.status == 401 and token:
                failures.note("token", client)
            raise

    return dependency


Probe = Annotated[Principal, Depends(require(Role.PROBE))]
Board = Annotated[Principal, Depends(require(Role.BOARD))]  # the open board's reads
Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
