"""The quarterly QUAR summary: the quarter's graded indicators (the monthly report's QUAR table)
and the same figures month by month, as HTML (and PDF through `agent.reports.pdf`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.catalog.model import Catalog
from agent.indicators.compute import compute_indicators
from agent.indicators.figures import Indicators
from agent.indicators.periods import Period, parse_period
from agent.indicators.quar import Assessment, assess
from agent.indicators.quar_config import QuarConfig
from agent.maintenance import MaintenanceCalendar
from agent.reports import render
from agent.reports.i18n import Formatter
from agent.store.base import Store


@dataclass(frozen=True, slots=True)
class MonthRow:
    label: str
    indicators: Indicators
    assessment: Assessment


@dataclass(frozen=True)
class QuarterlySummary:
    period: Period
    generated_at: datetime
    timezone: str
    quar: QuarConfig
    indicators: Indicators
    assessment: Assessment
    months: tuple[MonthRow, ...]
    version: int | None = None  # the archive's version of this quarter's summary

    @property
    def has_data(self) -> bool:
        return self.indicators.has_data


def build_quarterly(
    store: Store,
    catalog: Catalog,
    calendar: MaintenanceCalendar,
    quar: QuarConfig,
    quarter: str,
    now: datetime,
    timezone: str,
) -> QuarterlySummary:
    """`quarter` as `2026-Q4`; ValueError for anything else."""
    period = parse_period(quarter, timezone)
    if "-Q" not in period.label:
        raise ValueError(f"period {quarter!r} is not a quarter (YYYY-Qn)")
    year, number = int(period.label[:4]), int(period.label[-1])
    months = []
    for month in range(3 * number - 2, 3 * number + 1):
        part = parse_period(f"{year}-{month:02d}", timezone)
        figures = compute_indicators(store, catalog, calendar, part, now)
        months.append(MonthRow(part.label, figures, assess(figures.values(), quar)))
    whole = compute_indicators(store, catalog, calendar, period, now)
    return QuarterlySummary(
        period, now, timezone, quar, whole, assess(whole.values(), quar), tuple(months)
    )


def render_quarterly(summary: QuarterlySummary, lang: str) -> str:
    fmt = Formatter.of(lang, summary.timezone)
    return render("quarterly.html.j2", r=summary, f=fmt, lang=lang)
