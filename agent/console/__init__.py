"""The operator console: server-rendered Jinja2 pages (autoescaped), plain CSS and JS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.console.pages import Console, clock, local_time

if TYPE_CHECKING:
    from agent.agent_view import AgentView

HERE = Path(__file__).parent


def environment(timezone: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time(ZoneInfo(timezone))
    env.filters["clock"] = clock
    return env


def mount_console(app: FastAPI, agent: AgentView) -> None:
    console = Console(agent, environment(agent.settings.timezone))
    app.state.vigia_console = console
    app.include_router(console.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
