"""The store on SQLAlchemy Core, split by concern (one module each), composed in `SqlStore`:

- `database.py`: the engine, transactions, the dialect switches and shared query helpers;
- `writing.py` (with `effect_batch.py`): engine effects applied in one transaction;
- `snapshot.py`: what the engine reads back after a restart;
- `results.py`: results and statuses, rollups, compaction, heartbeat beats;
- `incidents.py`: incidents, annotations, incident ids and the timelines;
- `maintenance.py`: maintenance windows;
- `audit.py`: quarantined effects, clock steps, the agent's heartbeat.
"""

from agent.store.sql.store import SqlStore

__all__ = ["SqlStore"]
