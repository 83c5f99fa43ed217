"""Bounds on a cluster node's PostgreSQL sessions, set on the server side.

A node cut off from the database by a partition (its packets dropped, nobody told) leaves the
server its open session, idle inside whatever transaction it was running, with the row locks
that transaction took: a renewal's on the lease rows, the fence's share lock. A claim skips
locked rows, so those partitions could not be taken over until the server noticed the dead
peer (TCP keepalives: hours by default). `idle_in_transaction_session_timeout` makes the
server end such a transaction, and release its locks, after a bounded silence.

The node's own side has the mirror problem: a write sent into a link that drops packets waits
for TCP's retransmissions (about 15 minutes on Linux) before the writer hears of it. libpq's
`tcp_user_timeout` and keepalives bound that wait to about one lease time, after which the
store writer's retry (lease/3 on a cluster node) takes a new connection.
"""

from __future__ import annotations

from sqlalchemy import make_url


def with_session_options(url: str, **settings: int) -> str:
    """`url` with `-c name=value` added to its libpq `options` (a later `-c` of the same name
    wins, so a caller can tighten what the URL already sets); SQLite URLs unchanged."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not settings:
        return url
    added = " ".join(f"-c {name}={value}" for name, value in settings.items())
    options = " ".join(part for part in (str(parsed.query.get("options", "")), added) if part)
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def bounded_idle_transactions(url: str, lease_seconds: float) -> str:
    """The URL of a cluster node's store: a transaction the node leaves silent for one lease
    time is ended by the server (the node has given its partitions up by then)."""
    millis = max(1000, int(lease_seconds * 1000))
    bounded = with_session_options(url, idle_in_transaction_session_timeout=millis)
    return with_client_timeouts(bounded, lease_seconds)


def with_client_timeouts(url: str, lease_seconds: float) -> str:
    """`url` with libpq's socket bounds: unacknowledged data or a silent peer is given up after
    about one lease time (keepalive probes every lease/3 once idle lease/3); SQLite unchanged."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    third = max(1, int(lease_seconds / 3))
    bounds = {
        "tcp_user_timeout": str(max(1000, int(lease_seconds * 1000))),
        "keepalives": "1",
        "keepalives_idle": str(third),
        "keepalives_interval": str(third),
        "keepalives_count": "3",
    }
    return parsed.update_query_dict(bounds).render_as_string(hide_password=False)
