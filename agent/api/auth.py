"""Moved to agent.access.tokens; kept for older importers (tests, benchmarks, branches)."""

from agent.access.tokens import (
    ANONYMOUS,
    TOKEN_PREFIX,
    AuthError,
    Principal,
    Role,
    authenticate,
    authorize,
    hash_token,
    new_token,
    probe_entries,
)

__all__ = [
    "ANONYMOUS",
    "TOKEN_PREFIX",
    "AuthError",
    "Principal",
    "Role",
    "authenticate",
    "authorize",
    "hash_token",
    "new_token",
    "probe_entries",
]
