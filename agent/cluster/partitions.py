"""Which partition a service belongs to.

The first 8 bytes of the SHA-256 of the service id (UTF-8), read as a big-endian unsigned
integer, modulo the number of partitions. SHA-256 rather than Python's `hash()`: that one is
salted per process, and every node and every release must agree on the mapping.
"""

from __future__ import annotations

import hashlib

DEFAULT_PARTITIONS = 64
MAX_PARTITIONS = 4096


def partition_of(service: str, partitions: int) -> int:
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ValueError(f"partitions must be in 1..{MAX_PARTITIONS}, not {partitions}")
    digest = hashlib.sha256(service.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % partitions
