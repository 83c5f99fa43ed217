"""Cluster fixtures.

- `cluster_url`: a private database on the shared PostgreSQL per test, dropped afterwards. A
  database (not a schema) per test: nodes run as subprocesses with their own connections, and
  the leases of one test must never be seen by another helper's or test's nodes.
- `cluster`: three real `vigia run` nodes on a private PostgreSQL server the tests may stop and
  restart, one for every test_run_* module (starting the nodes is most of their time); the
  third node reaches the server through a proxy (`link`) a test can cut. Each test gets it back
  with every node running and the partitions spread.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from agent.store.sql import SqlStore
from tests.cluster.private_postgres import PrivatePostgres, postgres_bin
from tests.cluster.proxy import CuttableProxy
from tests.cluster.run_cluster import Cluster, Layout, wait_for

POSTGRES_ENV = "VIGIA_TEST_POSTGRES_URL"
NAMES = ["n1", "n2", "n3"]
PROXIED = "n3"  # the node whose link to PostgreSQL `link` can cut

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


@pytest.fixture(scope="package")
def postgres() -> Iterator[PrivatePostgres]:
    if postgres_bin() is None:
        pytest.skip("initdb/pg_ctl not installed (/usr/lib/postgresql/*/bin)")
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.remove()


@pytest.fixture(scope="package")
def link(postgres: PrivatePostgres) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(("127.0.0.1", postgres.port))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture(scope="package")
def running(
    postgres: PrivatePostgres, link: CuttableProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    layout = Layout(services_per_partition=3)  # 24 services: some load, fresh ones to break
    made = Cluster(postgres.url, tmp_path_factory.mktemp("cluster"), layout)
    try:
        made.routes[PROXIED] = make_url(made.url).set(port=link.port).render_as_string(False)
        made.start(*NAMES)
        yield made
    finally:
        made.close()


@pytest.fixture
def cluster(running: Cluster, link: CuttableProxy) -> Cluster:
    """The running cluster, with what the previous test broke put back."""
    link.restore()
    dead = [name for name, node in running.nodes.items() if not node.alive]
    for name in dead:
        running.nodes[name].stop()
    running.start(*dead)  # a killed or stopped node restarts under its name and rejoins
    wait_for(lambda: running.balanced(NAMES), 40, "the partitions to spread over 3 nodes")
    return running
