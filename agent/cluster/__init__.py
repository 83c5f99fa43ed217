"""Several core nodes on one PostgreSQL database (issue #15, docs/architecture.md "Cluster").

Services hash into a fixed number of partitions (`partitions`); each partition is owned by one
node through a lease row with an epoch and an expiry in database time (`lease`), renewed by a
thread with its own connection (`renewer`) and checked inside every engine transaction (the
fence, `lease.assert_lease`). SQLite stays single-node (`single_node`).
"""
