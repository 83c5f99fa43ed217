"""Child process for the kill -9 test: adds results to a spool as fast as it can, acknowledges
some now and then, and says on stdout what it did once each step has returned (committed)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from agent.locations.spool import Spool
from agent.locations.wire import WireResult
from checks.result import Outcome

START = datetime(2026, 1, 1, tzinfo=UTC)


def main(path: str) -> None:
    spool = Spool(path)
    out = sys.stdout
    for i in range(1_000_000):
        check = f"svc/check-{i % 3}"
        started = START + timedelta(seconds=i)
        spool.add(WireResult(check=check, started_at=started, duration=0.1, outcome=Outcome.OK))
        out.write(f"added {check} {started.isoformat()}\n")
        if i % 7 == 6:
            sent = spool.pending(4)
            keys = " ".join(f"{r.check}@{r.started_at.isoformat()}" for r in sent.results)
            out.write(f"acking {keys}\n")
            out.flush()
            spool.acknowledge(sent)
            out.write("acked\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
