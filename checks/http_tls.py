"""The certificates an HTTP probe met: the first expiry over every TLS connection of its
redirect chain, so one `http` check sees what a browser's trip sees (#17 option 6).

Each connection's chain is what the server presented and verification used
(checks/cert_chain.py); the expiry that counts is the earliest `notAfter` across all of them,
with the host that presented it. The measurements carry the `tls` check's names (`not_after`,
`days_left`, `expires_first`, ...) so the expiry metric reads both kinds alike.
"""

from __future__ import annotations

import functools
from datetime import datetime

from checks.cert_chain import FirstExpiry, first_expiry
from checks.result import Measurement
from checks.tls import expiry_measurements


def chain_expiry(chains: list[tuple[str, list[bytes]]], now: datetime) -> dict[str, Measurement]:
    """`not_after`, `days_left`, `expires_first` (CN), `expires_first_role`, `chain_length`
    and `expires_first_host` of the earliest expiry over `chains` ((host, DER chain) each)."""
    found = [(host, _first(tuple(chain))) for host, chain in chains if chain]
    if not found:
        return {}
    host, first = min(found, key=lambda pair: pair[1].certificate.not_valid_after_utc)
    return {**expiry_measurements(first, now), "expires_first_host": host}


# A monitored server presents the same chain run after run: parse it once, not every probe.
@functools.lru_cache(maxsize=1024)
def _first(chain: tuple[bytes, ...]) -> FirstExpiry:
    return first_expiry(list(chain))
