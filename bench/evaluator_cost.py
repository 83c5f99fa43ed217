"""CPU per result of the alert evaluator (`AlertEvaluator.observe`, and `tick` once a minute),
the engine's own work excluded: 200 services of one check each with the shipped rules, one
minute apart for an hour, one service in 20 failing from minute 10 to 25 (state changes,
incidents, ServiceDown and the burn-rate rules firing and resolving).

    python bench/evaluator_cost.py [--repeats 5]

Thread CPU time (`time.thread_time`), so a busy machine slows the run but not the figure much;
the minimum over the repeats is the figure. Compare two trees in the same minute: run it from
each with PYTHONPATH set to that tree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checks.result import ProbeResult
from tests.alerting.test_evaluator import LETTERS, Harness, with_tiers
from tests.engine.builders import at, catalog, service

SERVICES = 200
MINUTES = 60


def one_run() -> float:
    """Microseconds of evaluator CPU per result."""
    harness = Harness(with_tiers(catalog(*(service(f"s{i}") for i in range(SERVICES)))))
    spent = 0.0
    for minute in range(MINUTES):
        harness.clock.set(at(minute * 60))
        for i in range(SERVICES):
            failing = i % 20 == 0 and 10 <= minute < 25
            outcome = LETTERS["f" if failing else "o"]
            result = ProbeResult(f"s{i}/tcp", at(minute * 60), 0.5, outcome, "refused" * failing)
            effects = harness.engine.observe(result)
            started = time.thread_time()
            harness.evaluator.observe(result, effects)
            spent += time.thread_time() - started
        started = time.thread_time()
        harness.evaluator.tick()
        spent += time.thread_time() - started
    return spent / (SERVICES * MINUTES) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.repeats)]
    median = statistics.median(runs)
    print(f"{min(runs):.2f} us per result (median {median:.2f}, {args.repeats} runs)")


if __name__ == "__main__":
    main()
