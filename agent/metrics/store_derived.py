"""Store-derived metrics: availability windows, QUAR month to date, incidents, catalogue size,
maintenance. Computed in a background thread and cached, so a scrape never queries the store.

Two cadences. The light part (open incidents, incident counts, maintenance, catalogue) every
`light_every` seconds, and soon after the runtime pokes it (an incident opened or closed).
The availability part (a full indicator pass for the month and one for the rolling windows,
two store queries per service) every `availability_every` seconds, stretched so that it never
takes more than `cpu_share` of one core at a large estate.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from prometheus_client.core import Metric

from agent.catalog.model import Catalog
from agent.indicators.compute import TimelineSource, compute_indicators, read_timelines
from agent.indicators.periods import Period, parse_period
from agent.indicators.quar_config import QuarConfig
from agent.maintenance import MaintenanceCalendar
from agent.metrics.availability_families import WINDOWS, quar_families, window_rows
from agent.metrics.exposition import Family, FastCollector, FastPath, Row, families_text
from agent.metrics.pacing import Paced
from agent.metrics.series import SERVICE_LABELS, service_labels
from agent.month_to_date import MonthToDate, indicators_json
from agent.store.bulk import PrefetchedTimelines
from agent.store.sql import SqlStore
from checks.clock import Clock
from checks.periodic import every

log = logging.getLogger(__name__)

INCIDENT_LOOKBACK = timedelta(hours=1)  # new incidents are looked for from this long ago
POKE_DELAY = 1.0  # seconds after a poke, so the store writer has committed what caused it


@dataclass(frozen=True, slots=True)
class _Cache:
    families: tuple[Family, ...]
    text: str


class StoreMetrics(FastCollector):
    def __init__(
        self,
        store: SqlStore,
        catalog: Callable[[], Catalog],
        calendar: Callable[[], MaintenanceCalendar],
        clock: Clock,
        fast: FastPath,
        *,
        timezone: str,
        quar: Callable[[], QuarConfig],
        light_every: float = 15.0,
        availability_every: float = 30.0,
        cpu_share: float = 0.05,
        pace: float | None = None,
        month_to_date: MonthToDate | None = None,
    ) -> None:
        super().__init__(fast)
        self._store, self._catalog, self._calendar, self._clock = store, catalog, calendar, clock
        self._zone = ZoneInfo(timezone)
        self._quar = quar
        self.light_every, self.availability_every, self.cpu_share = (
            light_every,
            availability_every,
            cpu_share,
        )
        self.month_to_date = month_to_date  # where the month's figures are published
        self.pace = pace  # at most this share of wall time for the availability reads
        self._cache = _Cache((), "")
        self._light: tuple[Family, ...] = ()
        self._heavy: tuple[Family, ...] = ()
        self._heavy_text = ""
        self._incidents: dict[str, int] = {}
        self._max_incident = 0
        self._counted = False
        self._heavy_at = -float("inf")  # monotonic time of the last availability pass
        self._heavy_cost = 0.0  # its duration
        self._refreshed: dict[str, tuple[float, float]] = {}  # part -> (as of, duration)
        self._errors = 0
        self._poked = asyncio.Event()
        self._stopped = threading.Event()

    # ---- the collector ------------------------------------------------------------------------

    def render(self) -> str:
        return self._cache.text

    def families(self) -> Iterable[Metric]:
        return [f.metric() for f in self._cache.families]

    # ---- scheduling ---------------------------------------------------------------------------

    def poke(self) -> None:
        """Something the light part shows changed (call on the event loop)."""
        self._poked.set()

    async def run(self) -> None:
        """Refresh until cancelled; the work runs in a thread (a paced pass in progress stops
        at its next pause when cancelled, so it never holds up the agent's exit)."""
        try:
            await every(
                self.light_every, self._refresh_in_thread, wake=self._poked, settle=POKE_DELAY
            )
        finally:
            self._stopped.set()

    async def _refresh_in_thread(self) -> None:
        await asyncio.to_thread(self.refresh, availability=self._availability_due())

    def _availability_due(self) -> bool:
        every = max(self.availability_every, self._heavy_cost / self.cpu_share)
        return time.monotonic() - self._heavy_at >= every

    # ---- one refresh (blocking) ---------------------------------------------------------------

    def refresh(self, *, availability: bool = True) -> None:
        """Recompute the light part, and the availability part when asked; keep the old
        figures of a part whose computation fails."""
        now = self._clock.now()
        catalog, calendar = self._catalog(), self._calendar()
        self._light = self._timed("store", now, lambda: self._light_part(catalog, calendar, now))
        if availability:
            self._heavy_at = time.monotonic()
            cpu = time.thread_time()
            self._heavy = self._timed(
                "availability", now, lambda: self._availability_part(catalog, calendar, now)
            )
            # The availability families are ~40,000 lines at 10,000 services: their text is
            # rendered when they change, not again at every light pass.
            self._heavy_text = families_text(self._heavy)
            self._heavy_cost = time.thread_time() - cpu  # CPU, not the paced wall time
        own = self._own()
        text = families_text(self._light) + self._heavy_text + families_text(own)
        self._cache = _Cache((*self._light, *self._heavy, *own), text)

    def _timed(
        self, part: str, now: datetime, work: Callable[[], tuple[Family, ...]]
    ) -> tuple[Family, ...]:
        started = time.perf_counter()
        try:
            result = work()
        except Exception:
            self._errors += 1
            log.exception("refreshing the %s metrics failed; keeping the previous figures", part)
            return self._light if part == "store" else self._heavy
        self._refreshed[part] = (now.timestamp(), time.perf_counter() - started)
        return result

    def _own(self) -> tuple[Family, ...]:
        parts = sorted(self._refreshed.items())
        return (
            Family(
                "vigia_metrics_refresh_timestamp_seconds",
                "The instant the store-derived metrics were last computed for, by part.",
                ("part",),
                tuple(((p,), at) for p, (at, _) in parts),
            ),
            Family(
                "vigia_metrics_refresh_duration_seconds",
                "How long the last computation of the store-derived metrics took, by part.",
                ("part",),
                tuple(((p,), took) for p, (_, took) in parts),
            ),
            Family(
                "vigia_metrics_refresh_errors_total",
                "Failed computations of the store-derived metrics.",
                (),
                (((), float(self._errors)),),
                "counter",
            ),
        )

    # ---- the light part -----------------------------------------------------------------------

    def _light_part(
        self, catalog: Catalog, calendar: MaintenanceCalendar, now: datetime
    ) -> tuple[Family, ...]:
        monitored = catalog.monitored
        self._count_incidents(now)
        open_incidents = {i.service: i for i in self._store.incidents(open_only=True)}
        labels = {s.id: service_labels(s) for s in monitored}
        opened = [s for s in monitored if s.id in open_incidents]
        return (
            Family(
                "vigia_catalog_services",
                "Services in the catalogue, monitored or not.",
                ("monitored",),
                (
                    (("true",), float(len(monitored))),
                    (("false",), float(len(catalog.services) - len(monitored))),
                ),
            ),
            Family(
                "vigia_incidents_total",
                "Incidents (registos de indisponibilidade) recorded for the service.",
                SERVICE_LABELS,
                tuple((labels[s.id], float(self._incidents.get(s.id, 0))) for s in monitored),
                "counter",
            ),
            Family(
                "vigia_incident_open",
                "1 while the service has an open incident.",
                SERVICE_LABELS,
                tuple((labels[s.id], float(s.id in open_incidents)) for s in monitored),
            ),
            Family(
                "vigia_incident_open_start_timestamp_seconds",
                "Start (first failing probe) of the service's open incident.",
                SERVICE_LABELS,
                tuple((labels[s.id], open_incidents[s.id].started_at.timestamp()) for s in opened),
            ),
            Family(
                "vigia_maintenance_active",
                "1 while the service is inside a planned maintenance window.",
                SERVICE_LABELS,
                tuple((labels[s.id], float(calendar.in_planned(s.id, now))) for s in monitored),
            ),
        )

    def _count_incidents(self, now: datetime) -> None:
        """Incident ids only grow and are committed in order: count the ones above the
        highest already counted, reading only recent incidents after the first pass."""
        since = now - INCIDENT_LOOKBACK if self._counted else None
        highest = self._max_incident
        for incident in self._store.incidents(start=since):
            if incident.id > self._max_incident:
                self._incidents[incident.service] = self._incidents.get(incident.service, 0) + 1
                highest = max(highest, incident.id)
        self._max_incident = highest
        self._counted = True

    # ---- the availability part ----------------------------------------------------------------

    def _availability_part(
        self, catalog: Catalog, calendar: MaintenanceCalendar, now: datetime
    ) -> tuple[Family, ...]:
        month = self._month(now)
        span = Period(min(month.start, now - WINDOWS[-1][1]), now, "span")
        # Every service's timeline over both periods in two queries, not two per service.
        source: TimelineSource = PrefetchedTimelines(self._store, min(month.start, span.start), now)
        if self.pace:
            source = Paced(source, self.pace, self._stopped)
        statuses = self._store.service_statuses()
        monthly = compute_indicators(
            self._store, catalog, calendar, month, now, source, statuses=statuses
        )
        rolling = read_timelines(source, catalog, calendar, span, now, statuses)
        if self.month_to_date is not None:
            self.month_to_date.publish(indicators_json(monthly, self._quar()), now)
        rows: list[Row] = []
        for service in catalog.monitored:
            rows += window_rows(service, rolling.get(service.id), now)
        for figures in monthly.services:
            if figures.monitored and figures.availability is not None:
                svc = catalog.by_id[figures.id]
                rows.append(((*service_labels(svc), "month"), figures.availability / 100))
        return (
            Family(
                "vigia_service_availability_ratio",
                "Availability up / (up + down) over the window (month = month to date); "
                "absent when N/A.",
                (*SERVICE_LABELS, "window"),
                tuple(rows),
            ),
            *quar_families(monthly, self._quar()),
        )

    def _month(self, now: datetime) -> Period:
        local = now.astimezone(self._zone)
        return parse_period(f"{local.year:04d}-{local.month:02d}", self._zone)
