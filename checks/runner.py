"""Run one probe of any kind: dispatch, bound by the timeout, never raise."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from checks import dns, heartbeat, host, http, icmp, nagios, scenario, tcp, tls
from checks.context import ProbeContext
from checks.result import Outcome, ProbeResult, Verdict
from checks.secrets import SECRETS
from checks.specs import KindSpec

log = logging.getLogger(__name__)


class ProbeFn(Protocol):
    """Every `checks/<kind>.py` exposes `probe` with this signature."""

    def __call__(
        self, spec: Any, timeout: float, ctx: ProbeContext, *, check_id: str
    ) -> Awaitable[Verdict]: ...


PROBES: dict[str, ProbeFn] = {
    "http": http.probe,
    "scenario": scenario.probe,
    "tcp": tcp.probe,
    "tls": tls.probe,
    "dns": dns.probe,
    "icmp": icmp.probe,
    "heartbeat": heartbeat.probe,
    "nagios": nagios.probe,
    "host": host.probe,
}

# A probe module enforces its own timeout; this grace only catches one that does not.
_GRACE_SECONDS = 1.0


async def run_probe(
    check_id: str, kind: str, spec: KindSpec, timeout: float, ctx: ProbeContext
) -> ProbeResult:
    started_at = ctx.clock.now()
    start = ctx.clock.monotonic()
    verdict = await _verdict(check_id, kind, spec, timeout, ctx)
    duration = max(0.0, ctx.clock.monotonic() - start)
    return ProbeResult(
        check=check_id,
        started_at=started_at,
        duration=duration,
        outcome=verdict.outcome,
        # the one place every probe's text leaves: a plugin or target echoing a secret stops here
        reason=SECRETS.mask(verdict.reason),
        measurements={k: SECRETS.mask_value(v) for k, v in verdict.measurements.items()},
    )


async def _verdict(
    check_id: str, kind: str, spec: KindSpec, timeout: float, ctx: ProbeContext
) -> Verdict:
    try:
        async with asyncio.timeout(timeout + _GRACE_SECONDS):
            return await PROBES[kind](spec, timeout, ctx, check_id=check_id)
    except TimeoutError:
        return Verdict(Outcome.FAIL, f"timed out after {timeout:g}s")
    except Exception as exc:  # a probe bug must fail that probe, not the agent
        log.exception("probe %s crashed", kind)
        return Verdict(Outcome.FAIL, f"probe error: {type(exc).__name__}: {exc}")
