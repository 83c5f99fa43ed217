"""The agent's health judge, on a hand-driven monotonic clock: each reason, and recovery."""

from __future__ import annotations

from agent.health import (
    PROBING_STALLED,
    STORE_NOT_COMMITTING,
    STORE_QUEUE_FULL,
    STORE_UNAVAILABLE,
    AgentHealth,
    HealthLimits,
    HealthSample,
)


class Hand:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


LIMITS = HealthLimits(probe_silence=30, commit_silence=60, max_queue=100)


def sample(probes: int = 0, commits: int = 0, depth: int = 0, error: str = "") -> HealthSample:
    return HealthSample(
        checks=5, probes_started=probes, batches_committed=commits, queue_depth=depth,
        store_error=error,
    )  # fmt: skip


def test_a_moving_agent_is_healthy() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    for n in range(10):
        clock.t += 20
        report = health.judge(sample(probes=n, commits=n, depth=3))
        assert report.healthy and report.reasons == ()


def test_no_probe_start_for_longer_than_the_silence_is_probing_stalled_until_one_starts() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    health.judge(sample(probes=7))
    clock.t += 29
    assert health.judge(sample(probes=7)).healthy
    clock.t += 2
    report = health.judge(sample(probes=7))
    assert report.reasons == (PROBING_STALLED,)
    assert report.details["seconds_since_probe_start"] == 31
    assert health.judge(sample(probes=8)).healthy


def test_no_checks_scheduled_is_not_a_stall() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    clock.t += 3600
    assert health.judge(HealthSample(0, 0, 0, 0)).healthy


def test_effects_waiting_without_a_commit_is_store_not_committing_until_a_commit() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    for n in range(1, 6):  # probes keep starting, results queue, nothing commits
        clock.t += 20
        report = health.judge(sample(probes=n, commits=2, depth=n))
    assert report.reasons == (STORE_NOT_COMMITTING,)
    clock.t += 1
    assert health.judge(sample(probes=6, commits=3, depth=0)).healthy


def test_an_idle_store_with_nothing_queued_is_healthy() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    health.judge(sample(commits=4))
    clock.t += 25
    assert health.judge(sample(probes=1, commits=4, depth=0)).healthy


def test_a_queue_past_its_bound_is_store_queue_full_until_it_shrinks() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    assert health.judge(sample(depth=101)).reasons == (STORE_QUEUE_FULL,)
    assert health.judge(sample(depth=100)).healthy


def test_a_failed_last_commit_is_store_unavailable_and_named_until_one_succeeds() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    report = health.judge(sample(depth=4, error="OperationalError"))
    assert report.reasons == (STORE_UNAVAILABLE,)
    assert report.details["store_error"] == "OperationalError"
    assert health.judge(sample(commits=1)).healthy


def test_several_reasons_are_all_named() -> None:
    clock = Hand()
    health = AgentHealth(clock, LIMITS)
    health.judge(sample())
    clock.t += 61
    report = health.judge(sample(depth=500, error="OperationalError"))
    assert report.reasons == (
        PROBING_STALLED, STORE_NOT_COMMITTING, STORE_QUEUE_FULL, STORE_UNAVAILABLE,
    )  # fmt: skip


def test_the_probe_silence_is_a_few_intervals_and_at_least_30_s() -> None:
    assert HealthLimits.for_checks(2.0, 1.0).probe_silence == 30.0
    assert HealthLimits.for_checks(60.0, 10.0).probe_silence == 190.0
