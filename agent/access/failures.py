"""Failed sign-ins and bad tokens: logged, counted and rate limited per client address.

The SOC must see someone trying tokens: every failure is a warning line (the client address and
what failed, never the token) and a `vigia_auth_failures_total{kind}` sample. A client with too
many failures in a window is refused with 429 until its oldest failure leaves the window, so a
guessing loop gets a handful of tries a minute.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)

KINDS = ("login", "token")
MAX_FAILURES = 10  # per client and window
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000  # addresses remembered; the oldest is forgotten first


class AuthFailures:
    def __init__(
        self,
        monotonic: Callable[[], float],
        registry: CollectorRegistry | None = None,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._now = monotonic
        self._max = max_failures
        self._window = window
        self._recent: OrderedDict[str, deque[float]] = OrderedDict()
        self.counter = Counter(
            "vigia_auth_failures",
            "Failed console sign-ins and API requests with a token that is not valid.",
            ["kind"],
            registry=registry,
        )
        for kind in KINDS:
            self.counter.labels(kind=kind)

    def note(self, kind: str, client: str) -> None:
        """One failure of `kind` (login or token) from `client`."""
        log.warning("authentication failed (%s) from %s", kind, client)
        self.counter.labels(kind=kind).inc()
        recent = self._recent.pop(client, None) or deque(maxlen=self._max)
        recent.append(self._now())
        self._recent[client] = recent
        while len(self._recent) > MAX_CLIENTS:
            self._recent.popitem(last=False)

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None if it is not being refused."""
        recent = self._recent.get(client)
        if recent is None or len(recent) < self._max:
            return None
        wait = recent[0] + self._window - self._now()
        return wait if wait > 0 else None


def client_address(host: str | None) -> str:
    return host or "unknown"
