"""`vigia db backup FILE`: a consistent copy of the SQLite database, safe while the agent runs.

SQLite's online backup API copies the pages under a read transaction, so a writer that commits
meanwhile never leaves the copy half-written; WAL mode lets the agent keep committing. A
PostgreSQL store is backed up with the database's own tools (pg_dump), which this command names.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from agent.commands.common import CommandError, guarded
from agent.store.url import database_url

PAGES_PER_STEP = 1024  # copy in steps so the agent's writer waits at most one step's time


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("db", help="the database: online backup")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    backup = actions.add_parser("backup", help="copy the SQLite database while the agent runs")
    backup.add_argument("file", help="the backup file to write (must not exist)")
    backup.set_defaults(handler=guarded(handle_backup))


def handle_backup(args: argparse.Namespace) -> int:
    source = sqlite_path(database_url(args.settings.db))
    target = Path(args.file)
    if target.exists():
        raise CommandError(f"{target} exists: a backup never overwrites a file")
    pages = backup_sqlite(source, target)
    print(f"backup of {source} written to {target} ({pages} pages, integrity ok)")
    return 0


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise CommandError(
            f"the store is {parsed.get_backend_name()}: back it up with pg_dump "
            "(see docs/operations.md); `vigia db backup` copies SQLite databases"
        )
    if not parsed.database or not Path(parsed.database).is_file():
        raise CommandError(f"no SQLite database at {parsed.database!r}")
    return Path(parsed.database)


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy `source` into a new `target` and check the copy; returns its page count."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=PAGES_PER_STEP)
        verdict = dst.execute("PRAGMA integrity_check").fetchone()[0]
        pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
    finally:
        dst.close()
        src.close()
    if verdict != "ok":
        target.unlink(missing_ok=True)
        raise CommandError(f"the copy of {source} failed its integrity check: {verdict}")
    return pages
