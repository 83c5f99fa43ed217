"""The agent's HTTP server: /healthz, /metrics, the API (/api/v1), the console (/) and the
public status page (/status, when enabled)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agent.http_guard import GuardPolicy, HttpGuard
from agent.http_protocol import AnswerHook, server_protocol
from agent.settings import Settings, split_host_port
from checks.secrets import install_log_filter

if TYPE_CHECKING:
    from agent.agent_view import AgentView


def create_app(
    metrics: CollectorRegistry | Callable[[], bytes],
    health: Callable[[], dict[str, Any]],
    agent: AgentView | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    render = metrics if callable(metrics) else (lambda: generate_latest(metrics))
    app = FastAPI(title="vigia", docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json")

    @app.get("/healthz")
    def healthz() -> Response:
        report = health()
        body = _json(report)
        return Response(
            body, status_code=200 if report["healthy"] else 503, media_type="application/json"
        )

    @app.get("/metrics")
    def scrape() -> Response:
        # AgentMetrics.render: pre-formatted lines, ~20x cheaper than generate_latest at 10k
        return Response(render(), media_type=CONTENT_TYPE_LATEST)

    if agent is not None:
        from agent.api import mount_api
        from agent.console import mount_console
        from agent.status.page import mount_status_page

        mount_api(app, agent)
        mount_console(app, agent)
        mount_status_page(app, agent)
    chosen = settings or (agent.settings if agent is not None else Settings())
    app.add_middleware(HttpGuard, policy=GuardPolicy.of(chosen))
    return app


def _json(report: dict[str, Any]) -> str:
    import json

    return json.dumps(report, default=str)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the agent owns SIGTERM/SIGINT/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    app: FastAPI,
    listen: str,
    stop: asyncio.Event,
    settings: Settings | None = None,
    answer: AnswerHook | None = None,
) -> None:
    """`answer` may answer requests from memory before the app (agent/http_protocol.py)."""
    host, port = split_host_port(listen)
    limits = settings or Settings()
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off",
        http=server_protocol(limits.header_timeout, answer),
        limit_concurrency=limits.max_connections,
        ssl_certfile=limits.tls_cert, ssl_keyfile=limits.tls_key,
    )  # fmt: skip
    install_log_filter(loggers=("uvicorn", "uvicorn.error", "uvicorn.access"))  # own handlers
    server = _Server(config)
    task = asyncio.create_task(_serve(server, listen))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopper.cancel()
    await task


async def _serve(server: uvicorn.Server, listen: str) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits the process when it cannot bind
        raise ListenError(f"cannot listen on {listen} (address in use or not allowed)") from exc
    except (OSError, ssl.SSLError) as exc:  # tls_cert / tls_key unreadable or not a pair
        raise ListenError(f"cannot serve HTTPS on {listen}: {exc}") from exc


class ListenError(RuntimeError):
    pass
