"""vigia's Prometheus metrics, one package, one renderer (`exposition.py`):

- `agent_metrics.py`: `AgentMetrics`, every metric of the running agent and the /metrics body;
- `series.py`: the cached per-service and per-check series it sets on every result;
- `agent_figures.py`: the scheduler's and the store writer's counters, read at scrape time;
- `store_derived.py`: `StoreMetrics`, figures computed from the store in a background thread
  (`availability_families.py`: availability windows and QUAR month to date; `pacing.py`: how
  its availability pass keeps off the event loop).
"""

from agent.metrics.agent_metrics import AgentMetrics, build_version

__all__ = ["AgentMetrics", "build_version"]
