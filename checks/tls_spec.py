"""Options of a tls check: a server's certificate and the versions it accepts (checks/tls.py)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from checks.spec_types import AddressFamily, StartTls, TlsVersion


class TlsSpec(AddressFamily):
    host: str
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = None  # SNI and hostname to match; default: host
    min_days: int = Field(default=21, ge=0)  # below: degraded
    fingerprint_sha256: str | None = None  # pin, hex with or without colons
    min_version: TlsVersion = "TLSv1.2"
    # the newest version offered; below min_version: a second handshake that must be refused
    max_version: TlsVersion | None = None
    ca_bundle: str | None = None
    starttls: StartTls | None = None  # the certificate of a mail relay or a directory

    def family_target(self) -> str | None:
        return self.host

    @field_validator("fingerprint_sha256")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        clean = value.replace(":", "").lower()
        if not re.fullmatch(r"[0-9a-f]{64}", clean):
            raise ValueError(f"{value!r} is not a SHA-256 fingerprint (64 hex digits)")
        return clean
