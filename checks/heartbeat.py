"""Heartbeat (passive) checks: the monitored job calls us; silence is the failure.

The book of last beats lives in memory; the agent seeds it from its store after a restart, so
a restart neither forgets a silent job nor blames one that beat just before it.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from checks.clock import Clock
from checks.context import ProbeContext
from checks.result import Measurement, Verdict
from checks.specs import HeartbeatSpec


class HeartbeatBook:
    """Last beat per check id. Times are timezone-aware UTC."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last: dict[str, datetime] = {}
        self.started_at = clock.now()

    def beat(self, check_id: str, at: datetime | None = None) -> datetime:
        moment = at if at is not None else self._clock.now()
        if moment.tzinfo is None:
            raise ValueError(f"heartbeat time {moment.isoformat()} has no timezone")
        self._keep_latest(check_id, moment)
        return moment

    def last(self, check_id: str) -> datetime | None:
        return self._last.get(check_id)

    def seed(self, beats: dict[str, datetime]) -> None:
        """Restore beats from the store; a beat already received since start is kept if newer."""
        for check_id, moment in beats.items():
            self._keep_latest(check_id, moment)

    def check_token(self, check_id: str, token: str | None, spec: HeartbeatSpec) -> bool:
        """Whether a beat for `check_id` carrying `token` may be accepted.

        No configured token: any beat is accepted. The comparison is constant-time so the
        token cannot be guessed byte by byte from response times.
        """
        if spec.token is None:
            return True
        if token is None:
            return False
        expected = spec.token.get_secret_value().encode()
        return hmac.compare_digest(token.encode(), expected)

    def _keep_latest(self, check_id: str, moment: datetime) -> None:
        # Beats can arrive out of order (retries, a seed after a live beat): never go back.
        known = self._last.get(check_id)
        if known is None or moment > known:
            self._last[check_id] = moment


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
