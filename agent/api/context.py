"""How the API finds the running agent and asks for auth (a bearer token with a role).

Reading the live state and running store work off the loop live in agent.operations.reading,
shared with the console and the status page; they are named here too for older importers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.access.failures import client_address
from agent.access.tokens import AuthError, Principal, Role, authorize, probe_entries
from agent.agent_view import AgentView
from agent.operations.reading import Live, blocking, live, sql_store

__all__ = [
    "Admin", "Board", "Live", "Operator", "Probe", "Viewer", "agent_of", "bearer", "blocking",
    "live", "now", "require", "sql_store",
]  # fmt: skip

bearer = HTTPBearer(auto_error=False, description="a token made by `vigia token create`")


def agent_of(request: Request) -> AgentView:
    agent: AgentView = request.app.state.vigia_agent
    return agent


def now(agent: AgentView) -> datetime:
    return agent.clock.now()


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
