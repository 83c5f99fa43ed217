"""ICMP probe: a real ping of 127.0.0.1, and the verdict arithmetic on icmplib's own Host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import icmplib
import pytest

from checks import icmp
from checks.context import ProbeContext
from checks.result import Outcome
from checks.specs import IcmpSpec


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext.create()
    yield context
    await context.aclose()


async def _allowed(privileged: bool) -> bool:
    try:
        await icmplib.async_ping("127.0.0.1", count=1, timeout=1, privileged=privileged)
    except icmplib.SocketPermissionError:
        return False
    return True


@pytest.fixture
async def permitted_mode() -> bool:
    """The `privileged` value this machine allows for ICMP, unprivileged first."""
    for privileged in (False, True):
        if await _allowed(privileged):
            return privileged
    pytest.skip(
        "this machine forbids both unprivileged ICMP (net.ipv4.ping_group_range) "
        "and raw sockets (not root, no CAP_NET_RAW)"
    )


async def test_loopback_answers_every_echo(ctx: ProbeContext, permitted_mode: bool) -> None:
    spec = IcmpSpec(host="127.0.0.1", count=3, interval=0.05, privileged=permitted_mode)
    verdict = await icmp.probe(spec, 2, ctx, check_id="lan/ping")
    assert verdict.outcome is Outcome.OK, verdict.reason
    assert verdict.measurements["loss_ratio"] == 0.0
    rtt_min, rtt_avg, rtt_max = (
        verdict.measurements[key] for key in ("rtt_min", "rtt_avg", "rtt_max")
    )
    assert isinstance(rtt_avg, float) and isinstance(rtt_min, float) and isinstance(rtt_max, float)
    assert 0 < rtt_min <= rtt_avg <= rtt_max < 1  # seconds, not milliseconds


async def test_impossible_rtt_limit_on_loopback_is_degraded(
    ctx: ProbeContext, permitted_mode: bool
) -> None:
    spec = IcmpSpec(host="127.0.0.1", count=1, max_rtt=0, privileged=permitted_mode)
    verdict = await icmp.probe(spec, 2, ctx, check_id="lan/ping")
    assert verdict.outcome is Outcome.DEGRADED
    assert "average RTT" in verdict.reason and "above 0ms" in verdict.reason


async def test_refused_unprivileged_icmp_says_how_to_allow_it(
    ctx: ProbeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No real component refuses on demand; this is icmplib's own error, as the kernel causes it.
    async def refuse(*args: Any, **kwargs: Any) -> icmplib.Host:
        raise icmplib.SocketPermissionError(kwargs["privileged"])

    monkeypatch.setattr(icmplib, "async_ping", refuse)
    verdict = await icmp.probe(IcmpSpec(host="127.0.0.1"), 2, ctx, check_id="lan/ping")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("ICMP not permitted: allow unprivileged ping with ")
    assert "net.ipv4.ping_group_range" in verdict.reason and "CAP_NET_RAW" in verdict.reason


async def test_kernel_refusal_is_reported_when_this_machine_refuses(ctx: ProbeContext) -> None:
    if await _allowed(False):
        pytest.skip("this machine allows unprivileged ICMP, so the kernel cannot refuse it")
    verdict = await icmp.probe(IcmpSpec(host="127.0.0.1"), 2, ctx, check_id="lan/ping")
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason.startswith("ICMP not permitted")


def test_all_echoes_lost_fails() -> None:
    verdict = icmp.judge(IcmpSpec(host="10.9.9.9"), icmplib.Host("10.9.9.9", 3, []))
    assert verdict.outcome is Outcome.FAIL
    assert verdict.reason == "no echo reply from 10.9.9.9 (3 sent)"
    assert verdict.measurements == {"loss_ratio": 1.0}


def test_loss_above_the_limit_is_degraded() -> None:
    spec = IcmpSpec(host="h", count=4, max_loss_ratio=0.25)
    verdict = icmp.judge(spec, icmplib.Host("h", 4, [1.0, 2.0]))
    assert verdict.outcome is Outcome.DEGRADED
    assert verdict.reason == "h lost 50% of echoes (max 25%)"
    assert verdict.measurements["loss_ratio"] == 0.5
    assert verdict.measurements["rtt_avg"] == pytest.approx(0.0015)


def test_loss_at_the_limit_is_ok() -> None:
    spec = IcmpSpec(host="h", count=4, max_loss_ratio=0.25)
    assert icmp.judge(spec, icmplib.Host("h", 4, [1.0, 2.0, 3.0])).outcome is Outcome.OK


def test_average_rtt_above_the_limit_is_degraded() -> None:
    spec = IcmpSpec(host="h", max_rtt=0.1)
    slow = icmp.judge(spec, icmplib.Host("h", 3, [90.0, 120.0, 150.0]))
    assert slow.outcome is Outcome.DEGRADED
    assert slow.reason == "h average RTT 120.0ms above 100ms"
    fast = icmp.judge(spec, icmplib.Host("h", 3, [90.0, 95.0, 100.0]))
    assert fast.outcome is Outcome.OK
