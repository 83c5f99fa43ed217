"""Services map to partitions by a stable hash: the same on every node and every run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from agent.cluster.lease import fair_share
from agent.cluster.partitions import MAX_PARTITIONS, partition_of

SERVICES = [f"servico-{n}" for n in range(200)]


def test_the_mapping_does_not_depend_on_the_process_hash_seed() -> None:
    script = (
        "import sys; from agent.cluster.partitions import partition_of;"
        f"print([partition_of(s, 64) for s in {SERVICES!r}])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "random")
    }
    assert outputs == {f"{[partition_of(s, 64) for s in SERVICES]}\n"}


def test_services_spread_evenly_over_partitions() -> None:
    counts = Counter(partition_of(f"svc-{n}", 64) for n in range(64_000))
    assert len(counts) == 64
    assert max(counts.values()) < 1.15 * 1000 and min(counts.values()) > 0.85 * 1000


@pytest.mark.parametrize("count", [0, MAX_PARTITIONS + 1])
def test_a_partition_count_out_of_range_is_refused_naming_the_range(count: int) -> None:
    with pytest.raises(ValueError, match=f"1..{MAX_PARTITIONS}"):
        partition_of("s", count)


def test_the_fair_share_rounds_up_so_every_partition_has_an_owner() -> None:
    assert fair_share(64, 3) == 22 and 3 * fair_share(64, 3) >= 64
    assert fair_share(64, 0) == 64
