"""A deterministic month: ~200 services replayed through the real Engine into a SqlStore.

The injected clock is the probe schedule: every service is probed every 4 h (at its own offset,
so no two services share a second), and every minute around a scripted event so outages start
and end to the second the script says. The agent is not running for 12 hours (no probes at
all), there are planned ad-hoc windows, recurring catalogue windows and a retroactive window.

The script (outages, degraded spells, windows, the gap) is plain data: the tests compute the
expected figures from it and from `schedule()`, without the engine or the availability code.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agent.catalog.model import MACRO_SERVICES, Catalog, Check, MaintenanceRule, Service, Timing
from agent.engine import Engine
from agent.indicators.periods import parse_period
from agent.maintenance import MaintenanceCalendar
from agent.records import Effect
from agent.store.sql import SqlStore
from checks.result import Outcome, ProbeResult
from checks.specs import TcpSpec

MONTH = parse_period("2026-10")  # Lisbon: 2026-09-30T23:00Z .. 2026-11-01T00:00Z
CLOCK_START = datetime(2026, 9, 30, 12, tzinfo=UTC)
CLOCK_END = datetime(2026, 11, 1, 6, tzinfo=UTC)  # past the month by a step: its end is known
REPORT_AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
STEP = timedelta(hours=4)  # healthy stretches are cheap: one probe every 4 h
FINE = timedelta(minutes=1)
MARGIN = timedelta(minutes=5)  # fine probes before and after each scripted event
TIMING = Timing(interval=14_400, timeout=10, confirm_down=3, confirm_up=2)  # silence 28,810 s
TIERS = ("platina", "ouro", "prata", "bronze")
SERVICES = 200
GAP = (datetime(2026, 10, 18, 2, tzinfo=UTC), datetime(2026, 10, 18, 14, tzinfo=UTC))
UNMONITORED, SILENT = "legado-arquivo", "svc-mudo"
DURATION = 0.25  # seconds every simulated probe takes


def utc(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def sid(index: int) -> str:
    return f"svc-{index:03d}"


@dataclass(frozen=True)
class Spell:
    """Probes of `service` in [start, end) answer `outcome` (fail or degraded)."""

    service: str
    start: datetime
    end: datetime
    outcome: Outcome = Outcome.FAIL


@dataclass(frozen=True)
class AdHoc:
    service: str
    start: datetime
    end: datetime
    created_at: datetime
    reason: str


# platina services are 0, 4, 8, ...; pcn = platina with an index divisible by 8
OUTAGES = (
    Spell(sid(0), utc(30, 22, month=9), utc(1, 0, 40)),  # crosses the month's start
    Spell(sid(0), utc(8, 9), utc(8, 9, 45)),  # parent of svc-001, which fails with it
    Spell(sid(1), utc(8, 9, 2), utc(8, 9, 44)),
    Spell(sid(8), utc(3, 14, 7), utc(3, 14, 31)),
    Spell(sid(8), utc(10, 2, 30), utc(10, 3, 20)),  # from inside a planned window to after it
    Spell(sid(16), utc(12, 23, 50), utc(13, 0, 52)),
    Spell(sid(16), utc(18, 1, 30), utc(18, 15)),  # across the agent's 12-hour gap
    Spell(sid(24), utc(20, 10, 10), utc(20, 10, 50)),  # inside a retroactive window
    Spell(sid(32), utc(5, 6), utc(5, 6, 19)),
    Spell(sid(32), utc(25, 0, 30), utc(25, 1, 45)),  # the night summer time ends
    Spell(sid(40), utc(14, 16, 3), utc(14, 17, 11)),
    Spell(sid(48), utc(31, 22), utc(2, 8, month=11)),  # still open when the report is made
    Spell(sid(56), utc(22, 8, 8), utc(22, 8, 12)),
    Spell(sid(64), utc(6, 11), utc(6, 11, 58)),
    Spell(sid(72), utc(27, 19, 19), utc(27, 19, 54)),
    *(Spell(sid(i), utc(1 + i % 28, i % 24, 3), utc(1 + i % 28, i % 24, 3 + i % 50 + 3))
      for i in range(2, SERVICES, 7)),
)  # fmt: skip
DEGRADED = (Spell(sid(3), utc(5, 10), utc(5, 12), Outcome.DEGRADED),)
WINDOWS = (
    AdHoc(sid(8), utc(10, 1), utc(10, 3), utc(1, 9), "upgrade"),  # planned
    AdHoc(sid(24), utc(20, 10), utc(20, 11), utc(20, 12), "emergency fix"),  # retroactive
    AdHoc(sid(12), utc(15, 20), utc(15, 22), utc(14, 9), "patching"),  # planned, no outage
)
RECURRING = {sid(5): MaintenanceRule("0 3 * * 0", 3600, "Europe/Lisbon", "weekly backup")}


def _check(service: str) -> Check:
    spec = TcpSpec(host=f"{service}.example", port=443)
    return Check(f"{service}/tcp", service, "tcp", "tcp", spec, TIMING)


def _service(index: int) -> Service:
    service_id = sid(index)
    tier = TIERS[index % 4]
    return Service(
        id=service_id, name=f"Serviço {index:03d}", macro_service=MACRO_SERVICES[index % 6],
        tier=tier, pcn=tier == "platina" and index % 8 == 0, owner="noc", monitored=True,
        depends_on=(sid(0),) if index == 1 else (), maintenance=_rules(service_id),
        timing=TIMING, merge_within=0, flap_start=20, flap_stop=5, checks=(_check(service_id),),
    )  # fmt: skip


def _rules(service_id: str) -> tuple[MaintenanceRule, ...]:
    return (RECURRING[service_id],) if service_id in RECURRING else ()


def _extra(service_id: str, monitored: bool) -> Service:
    return Service(
        id=service_id, name=service_id, macro_service="gestao-informacao", tier="bronze",
        pcn=False, owner="noc", monitored=monitored, depends_on=(), maintenance=(),
        timing=TIMING, merge_within=0, flap_start=20, flap_stop=5,
        checks=(_check(service_id),) if monitored else (),
    )  # fmt: skip


def catalog() -> Catalog:
    services = tuple(_service(i) for i in range(SERVICES))
    return Catalog(1, {}, (*services, _extra(UNMONITORED, False), _extra(SILENT, True)))


def offset(service_id: str) -> timedelta:
    return timedelta(seconds=(int(service_id[4:]) * 37) % 14_400)


def schedule(service_id: str) -> list[datetime]:
    """Every instant the simulated agent probes `service_id`, sorted (the injected clock)."""
    times: set[datetime] = set()
    at = CLOCK_START + offset(service_id)
    while at < CLOCK_END:
        times.add(at)
        at += STEP
    for spell in (*OUTAGES, *DEGRADED):
        if spell.service == service_id:
            at = spell.start - MARGIN
            while at < min(spell.end + MARGIN, CLOCK_END):
                times.add(at)
                at += FINE
    return sorted(t for t in times if not GAP[0] <= t < GAP[1])


def outcome(service_id: str, at: datetime) -> Outcome:
    for spell in (*OUTAGES, *DEGRADED):
        if spell.service == service_id and spell.start <= at < spell.end:
            return spell.outcome
    return Outcome.OK


def _results() -> Iterator[ProbeResult]:
    """All services' results merged in time order, as the scheduler would produce them."""
    streams = [_stream(sid(i)) for i in range(SERVICES)]
    for at, check in heapq.merge(*streams):
        service_id = check.split("/")[0]
        state = outcome(service_id, at)
        reason = "connection refused" if state is Outcome.FAIL else ""
        if state is Outcome.DEGRADED:
            reason = "latency 2.1 s over 1.0 s"
        yield ProbeResult(check, at, DURATION, state, reason, {"latency_ms": 250.0})


def _stream(service_id: str) -> Iterator[tuple[datetime, str]]:
    check = f"{service_id}/tcp"
    return ((at, check) for at in schedule(service_id))


def simulate(store: SqlStore, batch: int = 50_000) -> Catalog:
    """Fill `store` with the month; returns the catalogue it was played against."""
    cat = catalog()
    for w in WINDOWS:
        store.add_window(w.service, w.start, w.end, w.reason, "ops", w.created_at)
    engine = Engine(cat, MaintenanceCalendar(cat, tuple(store.windows())))
    pending: list[Effect] = []
    for result in _results():
        pending += engine.observe(result)
        if len(pending) >= batch:
            store.apply(pending)
            pending = []
    store.apply(pending)
    return cat
