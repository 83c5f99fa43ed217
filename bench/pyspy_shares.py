"""Where a py-spy profile of `vigia run` spends its samples, by part of the agent.

    py-spy record --pid PID --duration 80 --rate 100 --nonblocking --threads --format raw -o P
    python bench/pyspy_shares.py P [--top 25]

Reads py-spy's raw (collapsed) output: one `frame;frame;...;deepest N` line per stack. Prints
the share of samples per part (the first rule that matches the deepest frame, or the thread
for executor threads), then the deepest frames by share. Without `--native`, time spent in C
is charged to the Python frame that called it: uvloop's own loop shows as `Runner.run`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from pathlib import Path

Rule = tuple[str, Callable[[str, list[str]], bool]]
CONNECT = ("_connect (checks/http_backend", "socket.__init__", "connect_tcp", "aclose (checks/")
HTTP = ("httpx/", "httpcore/", "h11/", "anyio/", "http_backend")
RULES: list[Rule] = [
    ("TLS: ssl.SSLObject (handshake, read, write, certificate)", lambda d, s: "SSLObject." in d),
    (
        "executor threads (store writes, store metrics refresh, outbox)",
        lambda d, s: s[0].startswith("thread") and "MainThread" not in s[0],
    ),
    ("event loop, native (uvloop: polling, callbacks, socket I/O)", lambda d, s: "Runner.run" in d),
    ("TCP connect and close (socket, sock_connect)", lambda d, s: any(k in d for k in CONNECT)),
    ("httpx / httpcore / h11 request path", lambda d, s: any(k in d for k in HTTP)),
    ("metrics", lambda d, s: "metrics" in d or "prometheus_client" in d),
    ("probe logic (checks/)", lambda d, s: "checks/" in d),
    ("scheduler", lambda d, s: "scheduler" in d),
    ("engine, incidents, alerting, store queue", lambda d, s: "agent/" in d or "alerting/" in d),
    ("asyncio in Python (tasks, futures, timeouts)", lambda d, s: "asyncio/" in d),
]


def shares(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, samples per part, samples per deepest frame)."""
    parts: Counter[str] = Counter()
    deepest: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples, frames = int(count), stack.split(";")
        total += samples
        deepest[frames[-1]] += samples
        parts[next((name for name, hit in RULES if hit(frames[-1], frames)), "other")] += samples
    return total, parts, deepest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path, help="py-spy --format raw output")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    total, parts, deepest = shares(args.profile)
    print(f"{total} samples\n\n| part | share |\n|---|---|")
    for name, samples in parts.most_common():
        print(f"| {name} | {samples / total * 100:.1f} % |")
    print("\n| deepest frame | share |\n|---|---|")
    for frame, samples in deepest.most_common(args.top):
        print(f"| `{frame}` | {samples / total * 100:.1f} % |")


if __name__ == "__main__":
    main()
