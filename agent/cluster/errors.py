"""The cluster's exceptions."""

from __future__ import annotations


class ClusterError(Exception):
    """Base of every error the cluster code raises on purpose."""


class LeaseLostError(ClusterError):
    """The fence: this node no longer holds the partition with that epoch (another node took
    it over, or the lease expired). The transaction that checked must not commit."""

    def __init__(self, partitions: tuple[int, ...], holder: str, epochs: tuple[int, ...]) -> None:
        self.partitions = partitions
        self.holder = holder
        self.epochs = epochs
        pairs = ", ".join(f"{p} (epoch {e})" for p, e in zip(partitions, epochs, strict=True))
        super().__init__(f"node {holder!r} no longer holds partition(s) {pairs}")


class PartitionCountError(ClusterError):
    """Nodes of one database disagree on the number of partitions."""


class SecondNodeError(ClusterError):
    """A second node was started on a single-node (SQLite) database."""
