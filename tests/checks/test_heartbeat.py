"""Heartbeat checks judged on a ManualClock: no sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from checks import heartbeat
from checks.clock import ManualClock
from checks.context import ProbeContext
from checks.heartbeat import human_duration
from checks.heartbeat_book import HeartbeatBook
from checks.result import Outcome, Verdict
from checks.specs import HeartbeatSpec

START = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SPEC = HeartbeatSpec.model_validate({"max_silence": "5m"})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def ctx(clock: ManualClock) -> AsyncIterator[ProbeContext]:
    context = ProbeContext.create(clock)
    yield context
    await context.aclose()


async def judge(ctx: ProbeContext, spec: HeartbeatSpec = SPEC) -> Verdict:
    return await heartbeat.probe(spec, 1.0, ctx, check_id="backup/nightly")


async def test_recent_beat_is_ok_and_reports_it(ctx: ProbeContext, clock: ManualClock) -> None:
    ctx.heartbeats.beat("backup/nightly")
    clock.advance(90)
    verdict = await judge(ctx)
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements == {"last_beat": START.isoformat(), "silence_seconds": 90.0}


async def test_silence_longer_than_max_fails_with_its_length(
    ctx: ProbeContext, clock: ManualClock
) -> None:
    ctx.heartbeats.beat("backup/nightly")
    clock.advance(7 * 60 + 12)
    verdict = await judge(ctx)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "no heartbeat for 7m12s (max 5m)"
    assert verdict.measurements["silence_seconds"] == 432.0


async def test_silence_of_exactly_max_is_still_ok(ctx: ProbeContext, clock: ManualClock) -> None:
    ctx.heartbeats.beat("backup/nightly")
    clock.advance(300)
    assert (await judge(ctx)).outcome is Outcome.OK
    clock.advance(1)
    assert (await judge(ctx)).outcome is Outcome.FAIL


async def test_no_beat_yet_is_unknown_until_max_silence_since_start(
    ctx: ProbeContext, clock: ManualClock
) -> None:
    clock.advance(60)
    early = await judge(ctx)
    assert early.outcome is Outcome.UNKNOWN
    assert "the agent started 1m ago" in early.reason
    clock.advance(241)
    late = await judge(ctx)
    assert late.outcome is Outcome.FAIL
    assert late.reason == "no heartbeat since the agent started 5m1s ago (max 5m)"


async def test_a_new_beat_clears_the_failure(ctx: ProbeContext, clock: ManualClock) -> None:
    ctx.heartbeats.beat("backup/nightly")
    clock.advance(600)
    assert (await judge(ctx)).outcome is Outcome.FAIL
    ctx.heartbeats.beat("backup/nightly")
    assert (await judge(ctx)).outcome is Outcome.OK


async def test_beats_of_other_checks_do_not_count(ctx: ProbeContext, clock: ManualClock) -> None:
    ctx.heartbeats.beat("backup/weekly")
    clock.advance(400)
    assert (await judge(ctx)).outcome is Outcome.FAIL


async def test_seeded_beats_survive_a_restart(clock: ManualClock) -> None:
    before_restart = START - timedelta(minutes=2)
    context = ProbeContext.create(clock)
    context.heartbeats.seed({"backup/nightly": before_restart})
    clock.advance(60)
    verdict = await judge(context)
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements["silence_seconds"] == 180.0
    clock.advance(121)
    assert (await judge(context)).reason == "no heartbeat for 5m1s (max 5m)"
    await context.aclose()


def test_beats_never_go_back_in_time(clock: ManualClock) -> None:
    book = HeartbeatBook(clock)
    book.beat("c", START)
    book.beat("c", START - timedelta(minutes=1))  # a late retry of an older beat
    book.seed({"c": START - timedelta(hours=1)})
    assert book.last("c") == START
    book.seed({"c": START + timedelta(seconds=5)})
    assert book.last("c") == START + timedelta(seconds=5)


def test_naive_beat_time_is_refused(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="no timezone"):
        HeartbeatBook(clock).beat("c", datetime(2024, 5, 1, 9, 0))


async def test_beat_stamped_in_the_future_counts_as_no_silence(
    ctx: ProbeContext, clock: ManualClock
) -> None:
    ctx.heartbeats.beat("backup/nightly", START + timedelta(seconds=30))
    verdict = await judge(ctx)
    assert verdict.outcome is Outcome.OK
    assert verdict.measurements["silence_seconds"] == 0.0


def test_token_is_checked_when_configured(clock: ManualClock) -> None:
    book = HeartbeatBook(clock)
    spec = HeartbeatSpec(max_silence=300, token=SecretStr("s3cret-tok"))
    assert book.check_token("c", "s3cret-tok", spec)
    assert not book.check_token("c", "s3cret-to", spec)
    assert not book.check_token("c", None, spec)
    assert not book.check_token("c", "sëcret", spec)  # non-ASCII must not raise


def test_any_beat_is_accepted_without_a_token(clock: ManualClock) -> None:
    assert HeartbeatBook(clock).check_token("c", None, SPEC)
    assert HeartbeatBook(clock).check_token("c", "whatever", SPEC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (45, "45s"), (300, "5m"), (432, "7m12s"), (3600, "1h"), (93784, "1d2h3m4s")],
)
def test_durations_read_like_people_write_them(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
