"""Moved to agent.access.failures; kept for older importers (tests, benchmarks, branches)."""

from agent.access.failures import (
    KINDS,
    MAX_CLIENTS,
    MAX_FAILURES,
    WINDOW_SECONDS,
    AuthFailures,
    client_address,
)

__all__ = [
    "KINDS",
    "MAX_CLIENTS",
    "MAX_FAILURES",
    "WINDOW_SECONDS",
    "AuthFailures",
    "client_address",
]
