"""The book of last heartbeats per check: what a passive check is judged against.

In memory; the agent seeds it from its store after a restart, so a restart neither forgets a
silent job nor blames one that beat just before it.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from checks.clock import Clock
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
