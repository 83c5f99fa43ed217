"""The agent's own connectivity check: when it fails, failures are the agent's, not the services'.

semantics.md §4: while the agent cannot reach its reference target, its probe failures are
recorded as `unknown` (neither up nor down), so a cut uplink never becomes a mass outage.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from checks.result import Outcome, ProbeResult


@dataclass
class Connectivity:
    target: tuple[str, int] | None
    timeout: float = 3.0
    ok: bool = True
    reason: str = ""

    async def refresh(self) -> None:
        if self.target is None:
            return
        host, port = self.target
        try:
            async with asyncio.timeout(self.timeout):
                _, writer = await asyncio.open_connection(host, port)
            writer.close()
            self.ok, self.reason = True, ""
        except (OSError, TimeoutError) as exc:
            self.ok = False
            self.reason = f"{host}:{port} unreachable ({type(exc).__name__}: {exc})"

    def judge(self, result: ProbeResult) -> ProbeResult:
        """A failure seen while the agent itself is cut off cannot be judged."""
        if self.ok or result.outcome is not Outcome.FAIL:
            return result
        reason = f"agent connectivity check failed: {self.reason}; probe said: {result.reason}"
        return replace(result, outcome=Outcome.UNKNOWN, reason=reason)
