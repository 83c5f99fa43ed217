"""What a probe may use besides its own spec: shared clients, the heartbeat book, a clock,
the OAuth2 token cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from checks.clock import Clock, SystemClock
from checks.heartbeat_book import HeartbeatBook
from checks.ip_family import Resolver
from checks.oauth2 import TokenCache

if TYPE_CHECKING:
    from checks.http_clients import HttpClientPool


@dataclass(frozen=True, slots=True)
class ProbeContext:
    http: HttpClientPool
    heartbeats: HeartbeatBook
    clock: Clock = field(default_factory=SystemClock)
    tokens: TokenCache = field(default_factory=TokenCache)  # OAuth2 access tokens, per check
    # names to addresses for the tcp, tls and dns probes; None: the system's (tests inject)
    resolve: Resolver | None = None

    @classmethod
    def create(cls, clock: Clock | None = None) -> ProbeContext:
        from checks.http_clients import HttpClientPool

        chosen = clock or SystemClock()
        return cls(http=HttpClientPool(), heartbeats=HeartbeatBook(chosen), clock=chosen)

    async def aclose(self) -> None:
        await self.http.aclose()
