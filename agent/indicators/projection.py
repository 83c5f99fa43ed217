"""Month-to-date projection: the indicators so far and the downtime budget left per tier.

For a tier with n monitored services and availability target A (percent, `quar.tier_targets`,
else Ind.3's meta), the tier's mean availability at the period's end is at least A when

    sum over its services of down_s / K_s  <=  n (1 - A/100)

where down_s is the down time so far and K_s the known time the service will have at the end:
its known time so far (up + down) plus the rest of the period minus the planned maintenance
still to come, assuming the agent keeps observing. The budget is the slack on the left, in
seconds of outage on a service of the tier's mean K:

    budget = (n (1 - A/100) - sum down_s / K_s) x mean K_s

exact when the services' K are equal (the usual case) and negative once the target is lost.
`projected_availability` is the tier's mean if nothing else goes down this period.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from agent.catalog.model import Catalog
from agent.indicators.compute import compute_indicators
from agent.indicators.figures import Indicators, ServiceFigures
from agent.indicators.periods import Period
from agent.indicators.quar import Assessment, assess
from agent.indicators.quar_config import QuarConfig
from agent.maintenance import MaintenanceCalendar
from agent.store.base import Store


@dataclass(frozen=True, slots=True)
class TierBudget:
    tier: str
    target: float  # percent
    services: int  # monitored services counted
    down_seconds: float  # so far
    projected_availability: float | None  # percent, if nothing else goes down
    budget_seconds: float | None  # outage the tier can still absorb; < 0: target lost

    @property
    def exhausted(self) -> bool:
        return self.budget_seconds is not None and self.budget_seconds < 0


@dataclass(frozen=True, slots=True)
class Projection:
    now: datetime
    indicators: Indicators
    assessment: Assessment
    tiers: tuple[TierBudget, ...]


def month_to_date(
    store: Store,
    catalog: Catalog,
    calendar: MaintenanceCalendar,
    quar: QuarConfig,
    period: Period,
    now: datetime,
) -> Projection:
    """Indicators of `period` as known at `now`, graded, with each tier's budget left."""
    indicators = compute_indicators(store, catalog, calendar, period, now)
    start = max(period.start, min(now, period.end))
    ahead = {
        f.id: _remaining(calendar, f.id, start, period.end)
        for f in indicators.services
        if f.monitored
    }
    tiers = tier_budgets(indicators.services, ahead, quar)
    return Projection(now, indicators, assess(indicators.values(), quar), tiers)


def _remaining(
    calendar: MaintenanceCalendar, service: str, start: datetime, end: datetime
) -> float:
    if end <= start:
        return 0.0
    return (end - start).total_seconds() - calendar.overlap(service, start, end)


def tier_budgets(
    figures: Sequence[ServiceFigures], remaining: Mapping[str, float], quar: QuarConfig
) -> tuple[TierBudget, ...]:
    """One budget per tier, in order of first appearance (`remaining`: known seconds to come)."""
    by_tier: dict[str, list[ServiceFigures]] = {}
    for f in figures:
        if f.monitored:
            by_tier.setdefault(f.tier, []).append(f)
    return tuple(
        _budget(tier, members, remaining, quar.tier_target(tier))
        for tier, members in by_tier.items()
    )


def _budget(
    tier: str, members: list[ServiceFigures], remaining: Mapping[str, float], target: float
) -> TierBudget:
    down = sum(f.down_seconds for f in members)
    known = [(f, f.up_seconds + f.down_seconds + remaining.get(f.id, 0.0)) for f in members]
    known = [(f, k) for f, k in known if k > 0]
    if not known:
        return TierBudget(tier, target, len(members), down, None, None)
    used = sum(f.down_seconds / k for f, k in known)
    slack = len(known) * (1 - target / 100) - used
    mean_known = statistics.fmean(k for _, k in known)
    projected = (1 - used / len(known)) * 100
    return TierBudget(tier, target, len(known), down, projected, slack * mean_known)
