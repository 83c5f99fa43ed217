"""Store fixtures: every contract test runs on SQLite (a temporary file) and on PostgreSQL.

PostgreSQL runs when VIGIA_TEST_POSTGRES_URL is set; each test gets its own schema (named on the
connection's search_path), dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from agent.store.sql import SqlStore

POSTGRES_ENV = "VIGIA_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vigia.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    yield from _postgres_schema(base)


def _postgres_schema(base: str) -> Iterator[str]:
    schema = f"vigia_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[..., SqlStore]]:
    """Opens (and later closes) migrated stores on the test database."""
    opened: list[SqlStore] = []

    def factory(**options: float) -> SqlStore:
        store = SqlStore.open(store_url, **options)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., SqlStore]) -> SqlStore:
    return open_store()
