"""Bearer tokens with roles: viewer < operator < admin.

The settings hold only `sha256:<hex>` hashes of the tokens (`vigia token create`). A token is
256 random bits, so a fast hash is as safe as a slow one here (nothing to brute-force) and a
request costs one SHA-256, not a key stretch: the console polls every few seconds.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from agent.settings import LocationEntry, TokenEntry

TOKEN_PREFIX = "vigia_"  # makes leaked tokens easy to spot for secret scanners


class Role(enum.IntEnum):
    PROBE = -1  # a location's worker: its own assignment and results, not even the board
    BOARD = 0  # the anonymous board: service states only, never a token's role
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def named(cls, name: str) -> Role:
        return cls[name.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a configured token's name and role, or the anonymous board viewer."""

    name: str
    role: Role

    def can(self, needed: Role) -> bool:
        return self.role >= needed


ANONYMOUS = Principal("anonymous", Role.BOARD)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def authenticate(token: str | None, entries: Sequence[TokenEntry]) -> Principal | None:
    """The principal of `token`, or None if it is missing or matches no configured hash.

    Every configured hash is compared, in constant time, so timing tells nothing.
    """
    if not token:
        return None
    presented = hash_token(token)
    found: Principal | None = None
    for entry in entries:
        if hmac.compare_digest(presented, entry.hash) and found is None:
            found = Principal(entry.name, Role.named(entry.role))
    return found


def probe_entries(locations: Sequence[LocationEntry]) -> tuple[TokenEntry, ...]:
    """Each location's token as a `probe` role entry named after the location."""
    return tuple(TokenEntry(name=loc.name, role="probe", hash=loc.hash) for loc in locations)


class AuthError(Exception):
    """401 (no or unknown token), 403 (valid token, insufficient role) or 429 (too many failed
    attempts from this client: `retry_after` seconds). The API answers it as such."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def authorize(
    token: str | None, entries: Sequence[TokenEntry], needed: Role, anonymous_reads: bool
) -> Principal:
    """The principal allowed to do something needing `needed`, or AuthError.

    Anonymous callers (with `anonymous_reads`, the open board) get what the board shows and
    nothing more: annotations, delivery errors and probe reasons need a token. A wrong token is
    refused even when anonymous reads are allowed: it is a mistake to report.
    """
    if not token:
        if anonymous_reads and needed is Role.BOARD:
            return ANONYMOUS
        raise AuthError(401, "a bearer token is required")
    principal = authenticate(token, entries)
    if principal is None:
        raise AuthError(401, "the token is not valid")
    if not principal.can(needed):
        raise AuthError(403, f"role {principal.role.label} may not do this ({needed.label} needed)")
    return principal
