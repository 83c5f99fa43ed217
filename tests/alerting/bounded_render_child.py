"""Renders each template of argv in this process, under an address-space limit, and prints
one JSON line per template: its output (cut), seconds taken and peak RSS growth in MiB.

Run as a child so that a template that does take the memory (the old, unbounded sandbox)
fails the test with a MemoryError or a kill instead of taking the test runner with it."""

from __future__ import annotations

import json
import resource
import sys
import time

from alerting.rules import render

LIMIT = 1536 * 1024 * 1024  # bytes of address space: a bounded render needs a small part


def main() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
    for template in sys.argv[1:]:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        out = render(template, {"service": {"name": "SSD"}})
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        seconds = time.monotonic() - started
        print(json.dumps({"out": out[:200], "seconds": seconds, "grown_mib": grown}), flush=True)


if __name__ == "__main__":
    main()
