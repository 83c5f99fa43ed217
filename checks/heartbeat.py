"""Heartbeat (passive) checks: the monitored job calls us; silence is the failure. The last
beats are in the context's book (checks/heartbeat_book.py)."""

from __future__ import annotations

from checks.context import ProbeContext
from checks.result import Measurement, Verdict
from checks.specs import HeartbeatSpec


async def probe(
    spec: HeartbeatSpec, timeout: float, ctx: ProbeContext, *, check_id: str
) -> Verdict:
    now = ctx.clock.now()
    book = ctx.heartbeats
    last = book.last(check_id)
    limit = human_duration(spec.max_silence)
    if last is None:
        waited = max(0.0, (now - book.started_at).total_seconds())
        if waited <= spec.max_silence:
            return Verdict.unknown(
                f"no heartbeat yet; the agent started {human_duration(waited)} ago (max {limit})"
            )
        return Verdict.fail(
            f"no heartbeat since the agent started {human_duration(waited)} ago (max {limit})",
            silence_seconds=waited,
        )
    # A beat stamped a little in the future (sender's clock ahead) is not negative silence.
    silence = max(0.0, (now - last).total_seconds())
    measurements: dict[str, Measurement] = {
        "last_beat": last.isoformat(),
        "silence_seconds": silence,
    }
    if silence > spec.max_silence:
        reason = f"no heartbeat for {human_duration(silence)} (max {limit})"
        return Verdict.fail(reason, **measurements)
    return Verdict.ok(**measurements)


def human_duration(seconds: float) -> str:
    """`7m12s`, `5m`, `1h`, `2d3h`; under a second in ms. Whole seconds above that."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
