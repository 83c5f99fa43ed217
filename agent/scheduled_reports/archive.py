"""The report archive: each report a file under the archive directory, never overwritten, and a
`report_archive` row (kind, period, version, path, sha256, made_at).

The row is the proof that a period's report was made: the scheduler makes a period only while
it has no row, so a restart does not make it twice. A re-run makes the next version beside the
earlier ones. Two nodes racing for the same version are told apart by the row's unique key:
the loser removes its file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from agent.store import schema
from agent.store.sql import SqlStore

_TABLE = schema.report_archive


@dataclass(frozen=True, slots=True)
class Archived:
    id: int
    kind: str
    period: str
    version: int
    path: str
    sha256: str
    bytes: int
    made_at: datetime
    mailed_at: datetime | None = None

    @property
    def filename(self) -> str:
        return Path(self.path).name


class VersionTakenError(RuntimeError):
    """Another node archived this version of the period first."""


class ArchiveAlteredError(RuntimeError):
    """An archived file is gone or its bytes no longer match the row's checksum."""


class Archive:
    """Blocking: call it through a thread from the event loop."""

    def __init__(self, store: SqlStore, directory: Path | None = None) -> None:
        self.store = store
        self.directory = directory  # None: read the archive only

    def versions(self, kind: str, period: str) -> list[Archived]:
        query = select(_TABLE).where(_TABLE.c.kind == kind, _TABLE.c.period == period)
        with self.store.transaction() as conn:
            rows = conn.execute(query.order_by(_TABLE.c.version)).mappings().all()
        return [Archived(**row) for row in rows]

    def next_version(self, kind: str, period: str) -> int:
        query = select(func.max(_TABLE.c.version)).where(
            _TABLE.c.kind == kind, _TABLE.c.period == period
        )
        with self.store.transaction() as conn:
            return int(conn.execute(query).scalar() or 0) + 1

    def listing(self, limit: int = 100, offset: int = 0) -> tuple[int, list[Archived]]:
        """(total, newest first page)."""
        query = select(_TABLE).order_by(_TABLE.c.made_at.desc(), _TABLE.c.id.desc())
        with self.store.transaction() as conn:
            total = conn.execute(select(func.count()).select_from(_TABLE)).scalar_one()
            rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
        return int(total), [Archived(**row) for row in rows]

    def get(self, archive_id: int) -> Archived | None:
        with self.store.transaction() as conn:
            row = conn.execute(select(_TABLE).where(_TABLE.c.id == archive_id)).mappings().first()
        return None if row is None else Archived(**row)

    def unmailed(self, since: datetime) -> list[Archived]:
        """Reports made since `since` whose e-mail has not gone out, oldest first."""
        query = select(_TABLE).where(_TABLE.c.mailed_at.is_(None), _TABLE.c.made_at >= since)
        with self.store.transaction() as conn:
            rows = conn.execute(query.order_by(_TABLE.c.id)).mappings().all()
        return [Archived(**row) for row in rows]

    def mark_mailed(self, archive_id: int, at: datetime) -> None:
        with self.store.transaction(write=True) as conn:
            conn.execute(update(_TABLE).where(_TABLE.c.id == archive_id).values(mailed_at=at))

    def read(self, archive_id: int) -> tuple[Archived, bytes] | None:
        """A report and its file's bytes, checked against the row's checksum; None when
        there is no such report."""
        archived = self.get(archive_id)
        if archived is None:
            return None
        try:
            content = Path(archived.path).read_bytes()
        except OSError as exc:
            raise ArchiveAlteredError(f"{archived.filename}: {exc.strerror}") from None
        if hashlib.sha256(content).hexdigest() != archived.sha256:
            raise ArchiveAlteredError(f"{archived.filename}: its checksum no longer matches")
        return archived, content

    def add(
        self, kind: str, period: str, version: int, suffix: str, content: bytes, made_at: datetime
    ) -> Archived:
        """Write `content` as a new file and its row; VersionTakenError when the version exists."""
        path = self._new_file(kind, period, version, suffix, content, made_at)
        values = {
            "kind": kind,
            "period": period,
            "version": version,
            "path": str(path),
            "sha256": hashlib.sha256(content).hexdigest(),
            "bytes": len(content),
            "made_at": made_at,
        }
        try:
            with self.store.transaction(write=True) as conn:
                new_id = conn.execute(insert(_TABLE).values(values)).inserted_primary_key
        except IntegrityError:
            path.unlink(missing_ok=True)  # ours alone: the name is unique to this attempt
            raise VersionTakenError(f"{kind} {period} version {version} exists") from None
        assert new_id is not None
        return Archived(id=int(new_id[0]), **values)  # type: ignore[arg-type]

    def _new_file(
        self, kind: str, period: str, version: int, suffix: str, content: bytes, at: datetime
    ) -> Path:
        """A file no earlier report used: the name carries the version, the making time and a
        random part (two nodes may make the same version at the same second), and O_EXCL
        refuses an existing one rather than overwrite it."""
        if self.directory is None:
            raise RuntimeError("this archive was opened to read only")
        folder = self.directory / kind
        folder.mkdir(parents=True, exist_ok=True)
        stamp = at.strftime("%Y%m%dT%H%M%SZ")
        unique = secrets.token_hex(4)
        path = folder / f"vigia-{kind}-{period}-v{version}-{stamp}-{unique}.{suffix}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        return path
