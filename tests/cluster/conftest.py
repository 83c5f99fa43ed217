"""Cluster fixtures: a private database on the shared PostgreSQL per test, dropped afterwards.

A database (not a schema) per test: nodes run as subprocesses with their own connections, and
the leases of one test must never be seen by another helper's or test's nodes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from agent.store.sql import SqlStore

POSTGRES_ENV = "VIGIA_TEST_POSTGRES_URL"

WRITES_TABLE = """
CREATE TABLE cluster_writes (
    id BIGSERIAL PRIMARY KEY,
    partition INTEGER NOT NULL,
    node TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
)
"""


@pytest.fixture
def cluster_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    name = f"vigia_cluster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
        store = SqlStore.open(url)  # the real schema, migrations included
        with store.transaction() as conn:
            conn.execute(text(WRITES_TABLE))
        store.close()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
