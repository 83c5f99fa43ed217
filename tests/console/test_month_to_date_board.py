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
