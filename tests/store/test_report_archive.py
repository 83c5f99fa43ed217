"""The report archive's table (migration 9) on SQLite and PostgreSQL: versions side by side,
the unique key that stops two nodes archiving the same version, checksums checked on read."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from agent.scheduled_reports.archive import Archive, ArchiveAlteredError, VersionTakenError
from agent.store import migrations, schema
from agent.store.sql import SqlStore

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_versions_are_kept_side_by_side(store: SqlStore, tmp_path: Path) -> None:
    archive = Archive(store, tmp_path / "archive")
    first = archive.add("monthly", "2026-10", 1, "pdf", b"%PDF-1 first", T0)
    second = archive.add("monthly", "2026-10", archive.next_version("monthly", "2026-10"),
                         "pdf", b"%PDF-1 second", T0)  # fmt: skip
    assert (first.version, second.version) == (1, 2)
    assert first.sha256 == hashlib.sha256(b"%PDF-1 first").hexdigest()
    assert Path(first.path).read_bytes() == b"%PDF-1 first"
    assert [a.id for a in archive.versions("monthly", "2026-10")] == [first.id, second.id]
    assert archive.read(first.id) == (first, b"%PDF-1 first")
    total, rows = archive.listing(limit=1)
    assert total == 2 and rows == [second]
    assert archive.read(999) is None


def test_the_same_version_twice_is_refused_and_its_file_removed(
    store: SqlStore, tmp_path: Path
) -> None:
    archive = Archive(store, tmp_path / "archive")
    kept = archive.add("quarterly", "2026-Q3", 1, "pdf", b"one", T0)
    with pytest.raises(VersionTakenError):
        archive.add("quarterly", "2026-Q3", 1, "pdf", b"two", T0)
    assert sorted((tmp_path / "archive").rglob("*.pdf")) == [Path(kept.path)]


def test_an_altered_file_is_reported(store: SqlStore, tmp_path: Path) -> None:
    archive = Archive(store, tmp_path / "archive")
    made = archive.add("monthly", "2026-10", 1, "html", b"<p>ok</p>", T0)
    Path(made.path).write_bytes(b"<p>changed</p>")
    with pytest.raises(ArchiveAlteredError, match="checksum"):
        archive.read(made.id)
    Path(made.path).unlink()
    with pytest.raises(ArchiveAlteredError):
        archive.read(made.id)


def test_step_9_applies_after_step_8(store_url: str) -> None:
    """A database at version 8 (the status page's public messages) gets the archive table."""
    steps = migrations.MIGRATIONS
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            assert migrations.migrate(conn, [m for m in steps if m.version <= 8]) == [*range(1, 9)]
        with engine.begin() as conn:
            assert migrations.migrate(conn, [m for m in steps if m.version <= 9]) == [9]
            assert inspect(conn).has_table(schema.report_archive.name)
            versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        assert sorted(versions) == [*range(1, 10)]
    finally:
        engine.dispose()
