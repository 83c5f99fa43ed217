"""This node as a member of the cluster, inside the running agent (semantics.md §9).

Two views of "mine": `holdings` (the renewer's, valid until a local deadline) decides what
this node may probe and what its transactions may commit, through the fence; `owned` (the event
loop's) is the partitions whose state the engine has loaded. A partition is claimed, then its
state is read from the database, then it is owned; until then, and after it is lost, its
results go to the database's pending results for whoever owns it. The renewer runs on its own
thread and tells this class of every change; the changes are handled on the event loop, one
at a time, in the order they happened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

from agent.catalog.model import Catalog
from agent.cluster.fencing import Fencing
from agent.cluster.holdings import Holdings
from agent.cluster.lease import LeaseConfig
from agent.cluster.partitions import partition_of
from agent.cluster.renewer import Renewer, renewer_engine

log = logging.getLogger(__name__)

Gain = Callable[[dict[int, list[str]]], Awaitable[None]]  # {partition: its services}
Loss = Callable[[dict[int, list[str]]], None]


class ClusterMember:
    def __init__(
        self,
        url: str,
        config: LeaseConfig,
        catalog: Catalog,
        on_gain: Gain,
        on_loss: Loss,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.holdings = Holdings(monotonic)
        self.fencing = Fencing(config.node, config.partitions, self.holdings)
        self._url = url
        self._monotonic = monotonic
        self._on_gain, self._on_loss = on_gain, on_loss
        self.owned: set[int] = set()
        self._services: dict[int, list[str]] = {}
        self.index(catalog)
        self._changes: asyncio.Queue[tuple[str, dict[int, int]]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.renewer: Renewer | None = None
        self.gained_total = 0
        self.lost_total = 0

    def index(self, catalog: Catalog) -> None:
        """Which services each partition holds (after a reload, too)."""
        services: dict[int, list[str]] = {}
        for service in catalog.services:
            services.setdefault(self.partition_of(service.id), []).append(service.id)
        self._services = services

    def partition_of(self, service: str) -> int:
        return partition_of(service, self.config.partitions)

    def services_of(self, partitions: Iterable[int]) -> dict[int, list[str]]:
        return {p: list(self._services.get(p, ())) for p in partitions}

    def owns(self, service: str) -> bool:
        """The engine has this service's state and this node still holds its partition."""
        partition = self.partition_of(service)
        return partition in self.owned and self.holdings.epoch(partition) is not None

    def holds(self, service: str) -> bool:
        """This node may probe the service now (its state may still be loading)."""
        return self.holdings.epoch(self.partition_of(service)) is not None

    def owned_valid(self) -> set[int]:
        held = self.holdings.valid()
        return {p for p in self.owned if p in held}

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._apply_changes(), name="cluster-changes")
        engine = renewer_engine(self._url, self.config)
        self.renewer = Renewer(
            engine, self.config, self.holdings, monotonic=self._monotonic, listener=self._heard
        )
        await asyncio.to_thread(self.renewer.start)

    async def stop(self) -> None:
        """Release every partition at once (after the writer's last commit)."""
        if self.renewer is not None:
            await asyncio.to_thread(self.renewer.stop)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # ---- lease changes: from the renewer's threads to the loop ------------------------------

    def _heard(self, kind: str, partitions: Mapping[int, int]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._changes.put_nowait, (kind, dict(partitions)))

    async def _apply_changes(self) -> None:
        while True:
            kind, partitions = await self._changes.get()
            try:
                if kind == "claimed":
                    await self._gain(partitions)
                else:  # lost, released
                    self._lose(partitions)
            except Exception:
                log.exception("handling the %s partitions %s failed", kind, sorted(partitions))

    async def _gain(self, partitions: dict[int, int]) -> None:
        log.info("partitions %s claimed (epochs %s)", sorted(partitions), partitions)
        await self._on_gain(self.services_of(partitions))
        still = {p for p in partitions if self.holdings.epoch(p) == partitions[p]}
        self.owned |= still
        self.gained_total += len(still)
        gone = [p for p in partitions if p not in still]  # lost while its state was loading
        if gone:
            self._on_loss(self.services_of(gone))

    def _lose(self, partitions: dict[int, int]) -> None:
        gone = [p for p in partitions if p in self.owned]
        log.warning("partitions %s lost or released", sorted(partitions))
        self.owned -= set(partitions)
        self.lost_total += len(gone)
        if gone:
            self._on_loss(self.services_of(gone))
