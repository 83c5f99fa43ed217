"""Month-to-date projection and downtime budgets, read from a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.catalog.model import Catalog, Service, Timing
from agent.indicators.periods import Period
from agent.indicators.projection import month_to_date
from agent.indicators.quar import Grade
from agent.indicators.quar_config import DEFAULT_QUAR, QuarConfig
from agent.maintenance import MaintenanceCalendar
from agent.records import (
    Effect,
    MaintenanceWindow,
    ServiceStatus,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
)
from agent.store.sql import SqlStore

TIMING = Timing(interval=60, timeout=10, confirm_down=3, confirm_up=2)
PERIOD = Period(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC), "30 d")
MONTH_S = 30 * 86400
NOW = datetime(2026, 10, 11, tzinfo=UTC)  # 10 days in


def utc(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def service(sid: str, tier: str) -> Service:
    return Service(
        id=sid, name=sid, macro_service="comunicacoes", tier=tier, pcn=False, owner="ops",
        monitored=True, depends_on=(), maintenance=(), timing=TIMING, merge_within=0.0,
        flap_start=20.0, flap_stop=5.0, checks=(),
    )  # fmt: skip


def seen(sid: str, *steps: tuple[datetime, State]) -> list[Effect]:
    transitions = tuple(Transition(sid, at, state) for at, state in steps)
    status = ServiceStatus(sid, steps[-1][1], steps[-1][0], NOW - timedelta(seconds=5))
    return [TimelineRewritten(sid, steps[0][0], transitions), ServiceStatusSaved(status)]


CATALOG = Catalog(
    version=1,
    tiers={},
    services=(service("a", "prata"), service("b", "prata"), service("p", "platina")),
)
SEPT = datetime(2026, 9, 1, tzinfo=UTC)
EFFECTS = [
    *seen("a", (SEPT, State.UP), (utc(5), State.DOWN), (utc(5, 1), State.UP)),
    *seen("b", (SEPT, State.UP)),
    *seen("p", (SEPT, State.UP), (utc(6), State.DOWN), (utc(6, 12), State.UP)),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    sql = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    sql.apply(EFFECTS)
    yield sql
    sql.close()


def test_budget_is_the_outage_the_tier_can_still_absorb_at_its_target(store: SqlStore) -> None:
    projection = month_to_date(
        store, CATALOG, MaintenanceCalendar(CATALOG), DEFAULT_QUAR, PERIOD, NOW
    )
    prata = next(t for t in projection.tiers if t.tier == "prata")
    # 2 services x 1 % of 30 days = 51,840 s allowed; 3,600 s already used
    assert (prata.services, prata.target, prata.down_seconds) == (2, 99.0, 3600)
    assert prata.budget_seconds == pytest.approx(51_840 - 3600)
    assert prata.projected_availability == pytest.approx((1 - 3600 / MONTH_S / 2) * 100)
    assert not prata.exhausted


def test_a_tier_over_its_target_has_a_negative_budget(store: SqlStore) -> None:
    quar = QuarConfig(tier_targets={"platina": 99.9})
    projection = month_to_date(store, CATALOG, MaintenanceCalendar(CATALOG), quar, PERIOD, NOW)
    platina = next(t for t in projection.tiers if t.tier == "platina")
    # 0.1 % of 30 days is 2,592 s; 12 h are gone
    assert platina.target == 99.9
    assert platina.budget_seconds == pytest.approx(2592 - 12 * 3600)
    assert platina.exhausted


def test_planned_maintenance_still_to_come_shrinks_the_budget(store: SqlStore) -> None:
    window = MaintenanceWindow(1, "b", utc(20), utc(21), "upgrade", created_at=utc(1))
    calendar = MaintenanceCalendar(CATALOG, (window,))
    projection = month_to_date(store, CATALOG, calendar, DEFAULT_QUAR, PERIOD, NOW)
    prata = next(t for t in projection.tiers if t.tier == "prata")
    known_a, known_b = MONTH_S, MONTH_S - 86400
    slack = 2 * 0.01 - 3600 / known_a
    assert prata.budget_seconds == pytest.approx(slack * (known_a + known_b) / 2)


def test_indicators_so_far_are_graded_and_later_time_is_unknown(store: SqlStore) -> None:
    projection = month_to_date(
        store, CATALOG, MaintenanceCalendar(CATALOG), DEFAULT_QUAR, PERIOD, NOW
    )
    a = next(f for f in projection.indicators.services if f.id == "a")
    assert a.unknown_seconds == (PERIOD.end - NOW).total_seconds()
    ind3 = projection.assessment.indicators["ind3"]
    assert ind3.result == projection.indicators.ind3.value
    assert ind3.grade is Grade.NAO_ATINGIU  # platina's 12 h in 10 days drag the mean down
    assert projection.assessment.objective.grade is None  # no platina+pcn incident: Ind.4 N/A
