"""The record codec of the store (agent.store.codec encode_record / decode_record): cost per
status record, the writer's hot path (every saved check and service status is encoded).

    python bench/codec.py [--against FILE]

`--against FILE` measures another codec module in the same run (agent/store/codec.py, or the
agent/store/schema.py that held it before), e.g. the hand-written codec it replaced:
`git show c8fd1a0:agent/store/schema.py > /tmp/old_schema.py`.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.records import CheckStatus, CheckStep, ServiceStatus, State  # noqa: E402
from agent.store import codec  # noqa: E402

ROUNDS = 20_000


def records() -> list[Any]:
    now = datetime.now(UTC)
    history = tuple(CheckStep(now - timedelta(seconds=30 * i), State.UP) for i in range(5))
    check = CheckStatus("svc/http", "svc", State.UP, now, last_outcome="ok", last_result_at=now,
                        history=history)  # fmt: skip
    service = ServiceStatus("svc", State.UP, now, now, flap_history=("up",) * 21)
    return [check, service]


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("schema_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(module: ModuleType) -> dict[str, float]:
    """Microseconds per encode and per decode, best of 3 rounds."""
    out = {}
    for record in records():
        name = type(record).__name__
        doc = module.encode_record(record)
        assert module.decode_record(type(record), doc) == record
        for verb, call in (
            ("encode", lambda r=record: module.encode_record(r)),
            ("decode", lambda r=record, d=doc: module.decode_record(type(r), d)),
        ):
            best = min(timeit.repeat(call, number=ROUNDS, repeat=3))
            out[f"{name} {verb}"] = best / ROUNDS * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", type=Path, help="another codec module to compare")
    args = parser.parse_args()
    rows = {"current": measure(codec)}
    if args.against:
        rows["against"] = measure(load(args.against))
    keys = list(rows["current"])
    print("| record, operation | " + " | ".join(f"{k}, us" for k in rows) + " | ratio |")
    print("|---|" + "---|" * (len(rows) + 1))
    for key in keys:
        cells = [f"{rows[k][key]:.2f}" for k in rows]
        ratio = rows["against"][key] / rows["current"][key] if "against" in rows else 1.0
        print(f"| {key} | " + " | ".join(cells) + f" | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
