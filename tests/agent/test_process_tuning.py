"""`vigia run` tunes the interpreter for a long-lived agent (agent/commands/run.py)."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys

import pytest

from agent.commands.run import WARM_UP_CAP_SECONDS, warm_up_seconds
from tests.agent.test_scheduler import _catalog

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


FREEZE_SCRIPT = """
import gc, json, weakref
from agent.commands.run import freeze_survivors, tune_gc
tune_gc()
class Node:
    pass
state = [Node() for _ in range(20_000)]  # what the agent builds once running
a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle that is garbage at the freeze
cycle = weakref.ref(a)
del a, b
before = gc.get_freeze_count()
freeze_survivors()
print(json.dumps({"frozen_added": gc.get_freeze_count() - before,
                  "cycle_freed": cycle() is None, "young_after": len(gc.get_objects(2))}))
"""


def test_state_alive_after_warm_up_is_frozen_and_garbage_is_not() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FREEZE_SCRIPT], check=True, capture_output=True, text=True
    ).stdout
    got = json.loads(out)
    assert got["frozen_added"] >= 20_000  # the state left the collector's scans
    assert got["young_after"] < 1_000  # nothing long-lived is left for a full collection
    assert got["cycle_freed"]  # collected before the freeze, not kept forever


def test_warm_up_lasts_one_round_of_the_longest_check_and_is_capped() -> None:
    assert warm_up_seconds(_catalog(3, interval="30s", timeout="10s")) == 30 + 10 + 30
    assert warm_up_seconds(_catalog(1, interval="1d", timeout="10s")) == WARM_UP_CAP_SECONDS


MMAP_SCRIPT = """
import ctypes, json
from agent.commands.run import tune_malloc
libc = ctypes.CDLL("libc.so.6")
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Info(ctypes.Structure):
    _fields_ = [(k, ctypes.c_size_t) for k in FIELDS.split()]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
tune_malloc()
before = libc.mallinfo2().hblks
blocks = [libc.malloc(256 * 1024) for _ in range(16)]  # TLS read buffers (uvloop's)
print(json.dumps({"mapped": libc.mallinfo2().hblks - before}))  # of 16
"""


def _glibc() -> bool:
    name = ctypes.util.find_library("c")
    return name is not None and hasattr(ctypes.CDLL(name), "mallinfo2")


# glibc's malloc tuning is what is tested; CI (Debian) has glibc, a musl machine does not
NEEDS_GLIBC = pytest.mark.skipif(
    not _glibc(), reason="needs glibc (mallinfo2): this machine's C library is not glibc"
)


@NEEDS_GLIBC
def test_an_operators_mmap_threshold_is_kept_and_the_default_applies_without_one() -> None:
    """docs/operations.md: `MALLOC_MMAP_THRESHOLD_=131072` in the unit gives each 256 KiB
    TLS read buffer its own mapping (peak RSS 496 -> 460 MB at 10,000 services with
    reuse_connection); tune_malloc's own 1 MiB must not override it."""

    def mapped(env: dict[str, str]) -> int:
        out = subprocess.run(
            [sys.executable, "-c", MMAP_SCRIPT],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        ).stdout
        return int(json.loads(out)["mapped"])

    # glibc serves a request from the heap's top while it is large enough, mmaps past it
    assert mapped({"MALLOC_MMAP_THRESHOLD_": "131072"}) >= 12
    assert mapped({}) == 0  # 1 MiB: the buffers come from the heap


TRIM_SCRIPT = """
import ctypes, json, sys, time
from agent.commands.run import start_trimming
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallopt(-3, 1 << 20)  # tune_malloc's threshold: these blocks come from the heap
def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024
big, pins = [], []
for _ in range(1500):  # 150 MB of buffers, each followed by a small block that stays
    block = libc.malloc(100_000)
    ctypes.memset(block, 1, 100_000)
    big.append(block)
    pins.append(libc.malloc(20_000))  # not from a free list: right after the buffer
for block in big:
    libc.free(block)
freed = rss_mb()
if sys.argv[1] == "trim":
    start_trimming(libc.malloc_trim, 0.1)
time.sleep(0.5)
print(json.dumps({"freed": freed, "later": rss_mb()}))
"""


@NEEDS_GLIBC
def test_memory_freed_between_live_blocks_is_given_back_within_a_trim_period() -> None:
    """Free memory inside glibc's heap stays resident (only the top is returned on free): the
    agent's trimming thread gives it back (#18 item 4)."""

    def run(mode: str) -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, "-c", TRIM_SCRIPT, mode], check=True, capture_output=True, text=True
        ).stdout
        return {k: float(v) for k, v in json.loads(out).items()}

    kept, trimmed = run("none"), run("trim")
    assert kept["later"] > kept["freed"] - 20  # without a trim the 150 MB stay resident
    assert trimmed["later"] < trimmed["freed"] - 100
