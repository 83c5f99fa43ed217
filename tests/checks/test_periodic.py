"""`every`: the one periodic loop (rounds, first pause, failures, early wake-ups)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from checks.periodic import every


class Recorder:
    """A fake sleep that records each pause and lets the loop run a bounded number of rounds."""

    def __init__(self, rounds: int) -> None:
        self.pauses: list[float] = []
        self.rounds = rounds

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if len(self.pauses) >= self.rounds:
            raise asyncio.CancelledError
        await asyncio.sleep(0)


async def test_it_runs_at_once_then_after_each_pause() -> None:
    calls: list[int] = []
    recorder = Recorder(rounds=3)

    async def action() -> None:
        calls.append(len(recorder.pauses))

    with pytest.raises(asyncio.CancelledError):
        await every(7.0, action, sleep=recorder.sleep)
    assert calls == [0, 1, 2] and recorder.pauses == [7.0, 7.0, 7.0]


async def test_a_first_pause_comes_before_the_first_round() -> None:
    calls: list[int] = []
    recorder = Recorder(rounds=2)

    async def action() -> None:
        calls.append(len(recorder.pauses))

    with pytest.raises(asyncio.CancelledError):
        await every(3.0, action, first_now=False, sleep=recorder.sleep)
    assert calls == [1]


async def test_a_failing_round_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    recorder = Recorder(rounds=3)

    async def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database is away")

    with caplog.at_level(logging.ERROR), pytest.raises(asyncio.CancelledError):
        await every(1.0, flaky, sleep=recorder.sleep, name="flaky-task")
    assert len(calls) == 3
    assert [r.getMessage() for r in caplog.records] == ["periodic task flaky-task failed"]


async def test_a_wake_up_ends_the_pause_early_and_is_cleared() -> None:
    wake = asyncio.Event()
    rounds: list[float] = []
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def action() -> None:
        rounds.append(loop.time() - began)
        if len(rounds) == 1:
            wake.set()

    task = asyncio.create_task(every(30.0, action, wake=wake, settle=0.01))
    while len(rounds) < 2:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rounds[1] < 5.0  # woken, not after the 30 s pause
    assert not wake.is_set()  # cleared for the next wake-up


async def test_cancelling_a_pause_waiting_for_a_wake_up_ends_the_loop() -> None:
    wake = asyncio.Event()

    async def action() -> None:
        return None

    task = asyncio.create_task(every(30.0, action, wake=wake))
    await asyncio.sleep(0.01)
    wake.set()  # a wake-up in the same step as the cancellation
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
