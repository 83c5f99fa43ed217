"""SQLite is single-node: a second `vigia run` on the same file is refused.

The first node holds an exclusive `flock` on `<database>.node-lock` for as long as it runs; the
kernel drops it when the process ends however it ends (kill -9 included), so a stale lock
never needs cleaning. Several nodes need PostgreSQL, whose leases coordinate them.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sqlalchemy import make_url

from agent.cluster.errors import SecondNodeError


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


class SingleNodeLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".node-lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise SecondNodeError(
                f"another vigia node (pid {holder}) is running on the SQLite database "
                f"{self.path.with_suffix('')}: SQLite runs one node only; several nodes "
                "(a cluster) need PostgreSQL (db: postgresql://...)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> SingleNodeLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
