"""`StoreMetrics` lives in agent/metrics/store_derived.py; this module keeps the old import path
for agent/runtime.py (issue #13, another change is reshaping it): delete it once runtime.py
imports `agent.metrics.store_derived`."""

from agent.metrics.store_derived import StoreMetrics

__all__ = ["StoreMetrics"]
