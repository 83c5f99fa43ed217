"""The server-side bounds of a cluster node's sessions (agent/cluster/sessions.py): set on a real
PostgreSQL session, and the server really ends a transaction left silent past them."""

from __future__ import annotations

import os
import socket
import time

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from agent.cluster.lease import LeaseConfig
from agent.cluster.renewer import renewer_engine
from agent.cluster.sessions import bounded_idle_transactions, with_session_options


def test_options_are_added_after_those_the_url_has_and_sqlite_is_left_alone() -> None:
    url = "postgresql+psycopg://u:p@db/x?options=-c%20work_mem%3D4MB"
    bounded = with_session_options(url, lock_timeout=1000)
    assert make_url(bounded).query["options"] == "-c work_mem=4MB -c lock_timeout=1000"
    assert make_url(bounded).password == "p"  # kept: the store connects with this URL
    assert with_session_options("sqlite:///x.db", lock_timeout=1) == "sqlite:///x.db"


@pytest.mark.postgres
def test_the_store_and_the_renewer_sessions_carry_their_idle_bounds(cluster_url: str) -> None:
    store = create_engine(bounded_idle_transactions(cluster_url, 4.0))
    renewer = renewer_engine(
        bounded_idle_transactions(cluster_url, 6.0), LeaseConfig("a", lease_seconds=6.0)
    )
    try:
        with store.connect() as conn:
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "4s"
        with renewer.connect() as conn:  # its own, tighter bound wins over the store's
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "2s"
    finally:
        store.dispose()
        renewer.dispose()


@pytest.mark.postgres
def test_the_server_ends_a_transaction_left_silent_past_the_bound(cluster_url: str) -> None:
    engine = create_engine(bounded_idle_transactions(cluster_url, 1.0))
    try:
        with pytest.raises(DBAPIError, match="idle-in-transaction timeout"), engine.begin() as conn:
            conn.execute(text("SELECT 1"))
            time.sleep(2.5)  # a node cut off mid-transaction says nothing more
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_store_socket_gives_up_on_a_silent_link_within_a_lease(cluster_url: str) -> None:
    # read back from the kernel: the option must reach the socket libpq opened, not the URL only
    engine = create_engine(bounded_idle_transactions(cluster_url, 6.0))
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            sock = socket.socket(fileno=os.dup(raw.pgconn.socket))
            try:
                user_timeout = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
                keepalive = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
            finally:
                sock.close()
    finally:
        engine.dispose()
    assert (user_timeout, keepalive, idle) == (6000, 1, 2)


def test_client_timeouts_leave_sqlite_alone() -> None:
    assert bounded_idle_transactions("sqlite:///x.db", 6.0) == "sqlite:///x.db"
