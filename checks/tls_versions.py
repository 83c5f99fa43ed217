"""TLS version bounds on an SSL context, shared by the tls probe and the http probe's pool.

Its own module (no probe imports) so the http transports can use it without importing the
tls probe, which imports the probe context, which names the transports: an import cycle.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from collections.abc import Iterator

VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


@contextlib.contextmanager
def legacy_versions() -> Iterator[None]:
    """Python deprecates TLS 1.0/1.1 as a context's bound; a probe that asks for them on
    purpose (a policy floor below 1.2, the below-policy question) says so here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def bound(context: ssl.SSLContext, min_version: str | None, max_version: str | None) -> None:
    """`min_version` as the context's floor, `max_version` as its cap (None: left as is)."""
    with legacy_versions():
        if min_version:
            floor = VERSIONS[min_version]
            if floor < ssl.TLSVersion.TLSv1_2:
                context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses < 1.2 otherwise
            context.minimum_version = floor
        if max_version:  # blackbox_exporter's tls_config.max_version: a cap
            context.maximum_version = VERSIONS[max_version]
