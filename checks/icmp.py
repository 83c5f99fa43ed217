"""ICMP echo probe (icmplib): reachability, loss and round-trip time.

Unprivileged mode uses the kernel's ICMP datagram sockets, allowed only to the groups in
net.ipv4.ping_group_range; privileged mode needs raw sockets (root or CAP_NET_RAW). When the
kernel refuses, the reason says which knob to turn instead of a bare "permission denied".
"""

from __future__ import annotations

import asyncio

import icmplib

from checks.context import ProbeContext
from checks.result import Measurement, Verdict
from checks.specs import IcmpSpec

_NOT_PERMITTED = (
    "ICMP not permitted: allow unprivileged ping with "
    "`sysctl net.ipv4.ping_group_range='0 2147483647'`, "
    "or set privileged: true and run with CAP_NET_RAW"
)
_RAW_NOT_PERMITTED = (
    "ICMP raw socket not permitted: run the agent as root or with CAP_NET_RAW, "
    "or set privileged: false and allow unprivileged ping with "
    "`sysctl net.ipv4.ping_group_range='0 2147483647'`"
)


async def probe(spec: IcmpSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    # The echoes go out `interval` apart; the last one gets whatever time is left to answer.
    reply_wait = max(0.05, timeout - (spec.count - 1) * spec.interval)
    try:
        async with asyncio.timeout(timeout):
            host = await icmplib.async_ping(
                spec.host,
                count=spec.count,
                interval=spec.interval,
                timeout=reply_wait,
                privileged=spec.privileged,
            )
    except TimeoutError:
        return Verdict.fail(f"ping of {spec.host} did not finish within {timeout:g}s")
    except icmplib.SocketPermissionError:
        return Verdict.fail(_RAW_NOT_PERMITTED if spec.privileged else _NOT_PERMITTED)
    except icmplib.NameLookupError:
        return Verdict.fail(f"cannot resolve {spec.host}")
    except (icmplib.ICMPLibError, OSError) as exc:
        return Verdict.fail(f"ping of {spec.host} failed: {type(exc).__name__}: {exc}")
    return judge(spec, host)


def judge(spec: IcmpSpec, host: icmplib.Host) -> Verdict:
    """Verdict from icmplib's summary; its RTTs are in milliseconds, ours in seconds."""
    loss = float(host.packet_loss)
    if host.packets_received == 0:
        return Verdict.fail(
            f"no echo reply from {spec.host} ({host.packets_sent} sent)", loss_ratio=loss
        )
    measurements: dict[str, Measurement] = {
        "rtt_avg": host.avg_rtt / 1000,
        "rtt_min": host.min_rtt / 1000,
        "rtt_max": host.max_rtt / 1000,
        "loss_ratio": loss,
    }
    if loss > spec.max_loss_ratio:
        reason = f"{spec.host} lost {loss:.0%} of echoes (max {spec.max_loss_ratio:.0%})"
        return Verdict.degraded(reason, **measurements)
    if spec.max_rtt is not None and host.avg_rtt / 1000 > spec.max_rtt:
        reason = f"{spec.host} average RTT {host.avg_rtt:.1f}ms above {spec.max_rtt * 1000:g}ms"
        return Verdict.degraded(reason, **measurements)
    return Verdict.ok(**measurements)
