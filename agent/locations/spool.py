"""A probe worker's local spool (issue #14): every result is written here before it is sent,
and leaves only once the core acknowledged it.

SQLite in WAL mode with `synchronous=NORMAL`: in WAL mode a commit is in the write-ahead log
(the OS's page cache) when `commit()` returns, so it survives the death of the process (kill -9,
the OOM killer); only an OS crash or a power cut can lose the newest commits. Those are results
not yet sent, as if their probes had not run, and a lost acknowledgement only makes the worker
resend what the core stores once (natural key). FULL would add an fsync per result.

The spool is bounded by a horizon of results (6 h by default): when the newest result is
further than that from the oldest, the oldest are dropped, and per check the interval they
covered is kept and sent with the next batch (`DroppedInterval`), so the core counts it as
unknown time instead of a silent gap.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.locations.wire import Assignment, DroppedInterval, WireResult

DEFAULT_HORIZON_SECONDS = 6 * 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (check_id, started_at)
);
CREATE INDEX IF NOT EXISTS results_started ON results (started_at);
CREATE TABLE IF NOT EXISTS dropped (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    check_id TEXT NOT NULL UNIQUE,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assignment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
"""


def _key(at: datetime) -> str:
    """A UTC instant as fixed-width text, so text order is time order."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Pending:
    """What the spool holds unacknowledged, oldest first, with the row ids to delete on ack."""

    results: list[WireResult]
    dropped: list[DroppedInterval]
    result_ids: list[int]
    dropped_ids: list[int]

    @property
    def empty(self) -> bool:
        return not self.results and not self.dropped


class Spool:
    def __init__(self, path: str | Path, horizon: float = DEFAULT_HORIZON_SECONDS) -> None:
        if horizon <= 0:
            raise ValueError(f"the spool horizon must be positive, not {horizon!r}")
        self.path = Path(path)
        self.horizon = timedelta(seconds=horizon)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # ---- writing ----------------------------------------------------------------------------

    def add(self, result: WireResult) -> None:
        """Keep `result` until acknowledged; a result already held (same key) is kept once."""
        self.add_many([result])

    def add_many(self, results: list[WireResult]) -> None:
        """Keep every one of `results`, in one transaction (one commit for many probes)."""
        if not results:
            return
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO results (check_id, started_at, body) VALUES (?, ?, ?)",
                [(r.check, _key(r.started_at), r.model_dump_json()) for r in results],
            )
            self._trim(max(r.started_at for r in results))

    def discard_checks_except(self, assigned: set[str]) -> int:
        """Forget what is held for checks no longer assigned (the core would refuse the whole
        batch for them); returns how many results went."""
        held = {row[0] for row in self._db.execute("SELECT DISTINCT check_id FROM results")}
        held |= {row[0] for row in self._db.execute("SELECT check_id FROM dropped")}
        gone = sorted(held - assigned)
        removed = 0
        with self._transaction():
            for check in gone:
                removed += self._db.execute(
                    "DELETE FROM results WHERE check_id = ?", (check,)
                ).rowcount
                self._db.execute("DELETE FROM dropped WHERE check_id = ?", (check,))
        return removed

    def discard(self, pending: Pending) -> None:
        """Forget results the core can never take (refused one by one as malformed)."""
        self.acknowledge(pending)

    # ---- the last assignment: a worker restarted during a cut goes on probing ------------------

    def save_assignment(self, assignment: Assignment) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO assignment (id, body) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (assignment.model_dump_json(),),
            )

    def last_assignment(self) -> Assignment | None:
        row = self._db.execute("SELECT body FROM assignment WHERE id = 1").fetchone()
        return Assignment.model_validate_json(row[0]) if row else None

    def _trim(self, newest: datetime) -> None:
        """Drop what is older than the horizon before `newest`, remembering what it covered."""
        cutoff = _key(newest - self.horizon)
        rows = self._db.execute(
            "SELECT check_id, MIN(started_at), MAX(started_at), COUNT(*) FROM results "
            "WHERE started_at < ? GROUP BY check_id",
            (cutoff,),
        ).fetchall()
        for check, start, end, count in rows:
            self._db.execute(
                "INSERT INTO dropped (check_id, start, end, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (check_id) DO UPDATE SET start = MIN(start, excluded.start), "
                "end = MAX(end, excluded.end), count = count + excluded.count",
                (check, start, end, count),
            )
        if rows:
            self._db.execute("DELETE FROM results WHERE started_at < ?", (cutoff,))

    # ---- reading and acknowledging ----------------------------------------------------------

    def pending(self, limit: int) -> Pending:
        """Up to `limit` results, oldest first, and every dropped interval not yet sent."""
        rows = self._db.execute(
            "SELECT id, body FROM results ORDER BY started_at, id LIMIT ?", (limit,)
        ).fetchall()
        gaps = self._db.execute(
            "SELECT id, check_id, start, end, count FROM dropped ORDER BY id"
        ).fetchall()
        return Pending(
            results=[WireResult.model_validate(json.loads(body)) for _id, body in rows],
            dropped=[
                DroppedInterval(check=c, start=_instant(s), end=_instant(e), count=n)
                for _id, c, s, e, n in gaps
            ],
            result_ids=[row[0] for row in rows],
            dropped_ids=[row[0] for row in gaps],
        )

    def acknowledge(self, sent: Pending) -> None:
        """The core holds everything in `sent`: it leaves the spool."""
        with self._transaction():
            ids = [(row_id,) for row_id in sent.result_ids]
            self._db.executemany("DELETE FROM results WHERE id = ?", ids)
            # a dropped row may have grown since it was read: only the reported part leaves
            for row_id, gap in zip(sent.dropped_ids, sent.dropped, strict=True):
                self._db.execute(
                    "DELETE FROM dropped WHERE id = ? AND count = ?", (row_id, gap.count)
                )
                self._db.execute(
                    "UPDATE dropped SET count = count - ?, start = ? WHERE id = ?",
                    (gap.count, _key(gap.end), row_id),
                )

    def depth(self) -> int:
        """Results waiting for an acknowledgement."""
        row = self._db.execute("SELECT COUNT(*) FROM results").fetchone()
        return int(row[0])

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error: one add or ack is all or nothing."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
