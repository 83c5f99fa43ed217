"""The board shows the agent's one month-to-date result; it never computes its own."""

from __future__ import annotations

from agent.server import create_app
from tests.api.conftest import Running


async def test_the_board_reads_the_agents_one_month_to_date(running: Running) -> None:
    await running.agent.started.wait()
    agent = running.agent
    board = create_app(agent.registry, agent.health, agent=agent).state.vigia_console.board
    assert board.month is running.agent.month_to_date
    assert running.agent.store_metrics.month_to_date is running.agent.month_to_date
    figures = await board.month.wait_briefly(30)
    assert figures is not None
    moment = await board.moment()
    assert moment.figures is running.agent.month_to_date.current()


async def test_the_api_month_to_date_is_the_shared_result(running: Running) -> None:
    month = running.agent.month_to_date
    assert await month.wait_briefly(30) is not None
    published = {"services": [], "quar": {"objective": {"name": "shared"}}}
    month.publish(published, running.agent.clock.now())
    viewer = running.auth("viewer")
    got = await running.client.get("/api/v1/indicators", headers=viewer)
    assert got.status_code == 200
    assert got.json() == published
    chosen = await running.client.get("/api/v1/indicators?period=2025-10", headers=viewer)
    assert chosen.json() != published  # an explicit period is computed for that period
