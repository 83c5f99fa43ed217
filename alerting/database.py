"""The database alerting keeps its tables in, as alerting needs it: a transaction.

The agent's store offers it (`agent.store.sql.SqlStore`); alerting asks for nothing else of
the store, so it never depends on the store's other tables or queries.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy import Connection


class Database(Protocol):
    def transaction(self, write: bool = False) -> AbstractContextManager[Connection]:
        """One transaction, committed on success; `write=True` takes the write lock first."""
        ...
