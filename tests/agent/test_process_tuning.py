"""`vigia run` tunes the interpreter for a long-lived agent (agent/commands/run.py)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json
from agent.commands.run import GC_THRESHOLDS, tune_gc, tune_malloc
before = gc.get_freeze_count()
tune_gc()
tune_malloc()
print(json.dumps({"threshold": gc.get_threshold(), "expected": GC_THRESHOLDS,
                  "frozen_before": before, "frozen": gc.get_freeze_count()}))
"""


def test_start_up_heap_is_frozen_and_young_generation_enlarged() -> None:
    # In a child process: freezing is permanent and would change this test process's GC.
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=True, capture_output=True, text=True
    ).stdout
    got = json.loads(out)
    assert got["threshold"] == list(got["expected"])
    assert got["frozen_before"] == 0
    assert got["frozen"] > 10_000  # the imported modules at least
