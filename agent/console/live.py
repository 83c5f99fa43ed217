"""What changed on the board since a page last asked, without looking at every service.

Tiles: a subscriber to the agent's results (`Agent.subscribe`) marks the service of each probe
result; an update looks again only at those services and at those entering or leaving
maintenance, so its cost follows what changed, not the size of the catalogue. A full pass runs
when the catalogue changes, when there is no running engine to hook, and every `reconcile`
seconds as a safety net.

Every visible change of a tile or of a list row (open incident, active alert) takes the next
version number. A page holds a cursor `<epoch>.<lang>.<version>` per part and is sent only what
changed after it; a cursor from another epoch (agent restarted, catalogue reloaded), another
language, or older than the log keeps gets `None`: the caller sends the whole part.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime

from agent.agent_view import AgentView, live_engine
from agent.catalog.model import Catalog, Service
from agent.locations.overview import FailingLocations, failing_at
from agent.operations.reading import Live
from agent.records import ServiceStatus, State
from agent.staleness import is_stale

RECONCILE_SECONDS = 60.0
KEEP = 10_000  # changes remembered; a page further behind gets the whole board

# state, flapping, open incident, stale, locations failing below the quorum
TileKey = tuple[str, bool, int | None, bool, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Tile:
    service: Service
    state: str  # a key of fragments.ICONS
    flapping: bool
    incident: int | None
    stale: bool = False  # the state is older than the service's silence threshold
    failing_at: tuple[str, ...] = ()  # locations where a check fails, short of the quorum

    @property
    def key(self) -> TileKey:
        return (self.state, self.flapping, self.incident, self.stale, self.failing_at)


def tile_of(
    service: Service,
    status: ServiceStatus,
    in_maintenance: bool,
    now: datetime,
    failing_at: tuple[str, ...] = (),
) -> Tile:
    state = status.state.value
    if not service.monitored:
        state = "unmonitored"
    elif in_maintenance and status.state is not State.DOWN:
        state = "maintenance"
    stale = is_stale(service, status.last_seen_at, now)
    return Tile(service, state, status.flapping, status.open_incident, stale, failing_at)


class Versions:
    """A version number for every change of a keyed thing (a tile, a row), and which changed
    after a cursor `<epoch>.<lang>.<version>` that an earlier answer handed out."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._log: deque[tuple[int, str]] = deque()
        self.restart()

    def restart(self) -> None:
        self.epoch = secrets.token_hex(4)
        self.version = 0
        self._floor = 0  # every change after this version is still in the log
        self._log.clear()

    def bump(self, ident: str) -> None:
        self.version += 1
        self._log.append((self.version, ident))
        if len(self._log) > self.keep:
            self._floor = self._log.popleft()[0]

    def cursor(self, lang: str) -> str:
        return f"{self.epoch}.{lang}.{self.version}"

    def since(self, cursor: str, lang: str) -> set[str] | None:
        """What changed after `cursor`; None when it cannot tell (another epoch or language,
        older than the log keeps, not a cursor at all)."""
        parts = cursor.split(".")
        if len(parts) != 3 or parts[0] != self.epoch or parts[1] != lang:
            return None
        if not parts[2].isdigit() or not self._floor <= int(parts[2]) <= self.version:
            return None
        since, found = int(parts[2]), set()
        for version, ident in reversed(self._log):
            if version <= since:
                break
            found.add(ident)
        return found


class RowLog(Versions):
    """A list section's rows (open incidents, active alerts): what each row shows (its key),
    and a version for each row added, changed or removed. Updated from the whole list, which
    is as long as the outage, not as the catalogue."""

    def __init__(self, keep: int = KEEP) -> None:
        super().__init__(keep)
        self.keys: dict[str, Hashable] = {}

    def update(self, rows: Iterable[tuple[str, Hashable]]) -> None:
        seen = set()
        for ident, key in rows:
            seen.add(ident)
            if ident not in self.keys or self.keys[ident] != key:
                self.keys[ident] = key
                self.bump(ident)
        for gone in [ident for ident in self.keys if ident not in seen]:
            del self.keys[gone]
            self.bump(gone)


class TileLog(Versions):
    """Every service's tile, the state counts, the services with an open incident, and a
    version for every tile that changed. Used on the event loop only."""

    def __init__(
        self,
        agent: AgentView,
        keep: int = KEEP,
        reconcile: float = RECONCILE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.agent = agent
        self.reconcile = reconcile
        self._clock = clock
        self.catalog: Catalog | None = None
        self.tiles: dict[str, Tile] = {}
        self.counts: Counter[str] = Counter()
        self.open: set[str] = set()  # services whose tile shows an open incident
        self._dirty: set[str] = set()
        self._maintenance: frozenset[str] = frozenset()
        self._scanned = float("-inf")
        self._hooked = False
        super().__init__(keep)

    def attach(self) -> None:
        """Subscribe to the agent's results: each one marks its service to look at."""
        self.agent.subscribe(lambda result: self._dirty.add(result.service))
        self._hooked = True

    def sync(self, view: Live, maintenance: Collection[str]) -> None:
        """Bring every tile up to date: the marked services, or all of them when due."""
        catalog = self.agent.catalog
        if catalog is not self.catalog:
            self.catalog = catalog
            self.restart()
        now = self._clock()
        dirty, self._dirty = self._dirty, set()
        inside = frozenset(maintenance)
        if not (view.running and self._hooked) or now - self._scanned >= self.reconcile:
            self._scanned = now
            todo: Collection[str] = catalog.by_id.keys()
        else:
            todo = dirty | (inside ^ self._maintenance)
        self._maintenance = inside
        wall = self.agent.clock.now()
        failing_of = self._failing_of()
        for sid in todo:
            service = catalog.by_id.get(sid)
            if service is not None:
                where = failing_at(service, failing_of)
                self._put(tile_of(service, view.service(sid), sid in inside, wall, where))

    def _failing_of(self) -> FailingLocations:
        engine = live_engine(self.agent)
        return engine.failing_locations if engine is not None else lambda check: ()

    def restart(self) -> None:
        """A new catalogue: every tile anew, under a new epoch."""
        super().restart()
        self.tiles.clear()
        self.counts.clear()
        self.open.clear()
        self._scanned = float("-inf")

    def _put(self, tile: Tile) -> None:
        sid = tile.service.id
        old = self.tiles.get(sid)
        if old is not None and old.key == tile.key:
            return
        self.tiles[sid] = tile
        if old is not None:
            self.counts[old.state] -= 1
        self.counts[tile.state] += 1
        if tile.incident is None:
            self.open.discard(sid)
        else:
            self.open.add(sid)
        self.bump(sid)
