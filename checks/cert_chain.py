"""Which certificate of a TLS connection expires first: the expiry that counts is the earliest
`notAfter` of the chain the server presented and that verification used, not the leaf's (an
intermediate expiring in 5 days behind a leaf valid for 60 breaks every client in 5 days).

Where the chain comes from: OpenSSL keeps both the chain the peer sent and the path its
verification built (`SSL_get_peer_cert_chain`, `SSL_get0_verified_chain`). Python 3.13 exposes
them as `SSLObject.get_unverified_chain()` / `get_verified_chain()`; 3.10 to 3.12 have the
very same calls on the object's `_sslobj` (private, but the code the public ones wrap). They
read the handshake that already happened, so this costs no second connection, and the answer is
OpenSSL's own path rather than one rebuilt here (rebuilding it with `cryptography` would mean
re-implementing path building and trust). pyOpenSSL would give the presented chain only.

The certificates that count are those in both lists: presented (so a root the client trusts
locally, which the server never sent, does not count) and used by verification (so a stale
extra certificate the server sends but no path uses does not either). Without verification
(`verify: false`, or the TLS probe's second, unverified look), everything presented counts.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

_ENCODING_DER = 2  # _ssl.ENCODING_DER


@dataclass(frozen=True, slots=True)
class FirstExpiry:
    """The certificate of the chain that expires first and where it sits (0: the leaf)."""

    certificate: x509.Certificate
    position: int
    chain_length: int

    @property
    def name(self) -> str:
        """Its subject's common name (the subject in full when it has none)."""
        subject = self.certificate.subject
        names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else subject.rfc4514_string()

    @property
    def role(self) -> str:
        if self.position == 0:
            return "leaf"
        last = self.position == self.chain_length - 1
        issuer_is_self = self.certificate.issuer == self.certificate.subject
        return "root" if last and issuer_is_self else "intermediate"

    def expiry_text(self, not_after: str) -> str:
        """For a reason: `not after …` for the leaf, `intermediate 'CN', not after …` else."""
        which = "" if self.position == 0 else f"{self.role} {self.name!r}, "
        return f"{which}not after {not_after}"


def counted_chain(tls: ssl.SSLObject) -> list[bytes]:
    """DER of the certificates whose expiry counts, leaf first (module docstring)."""
    presented = _chain(tls, "get_unverified_chain")
    used = set(_chain(tls, "get_verified_chain"))
    chain = [der for der in presented if der in used] if used else presented
    if not chain:  # a Python without either call: the leaf is all there is to read
        leaf = tls.getpeercert(binary_form=True)
        chain = [leaf] if leaf else []
    return chain


def first_expiry(chain: list[bytes]) -> FirstExpiry:
    """The earliest `notAfter` of a non-empty chain (DER, leaf first); the first on a tie."""
    certificates = [x509.load_der_x509_certificate(der) for der in chain]
    position = min(range(len(certificates)), key=lambda i: certificates[i].not_valid_after_utc)
    return FirstExpiry(certificates[position], position, len(certificates))


def _chain(tls: ssl.SSLObject, call: str) -> list[bytes]:
    # 3.13+: public, DER bytes; 3.10-3.12: on `_sslobj`, `_ssl.Certificate` objects
    owner: Any = tls if hasattr(tls, call) else getattr(tls, "_sslobj", None)
    method = getattr(owner, call, None)
    found = method() if method is not None else None
    return [c if isinstance(c, bytes) else c.public_bytes(_ENCODING_DER) for c in found or ()]
