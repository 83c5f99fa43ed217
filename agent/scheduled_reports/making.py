"""What a scheduled report is made of: the period a schedule's firing reports on, and the
rendered file (the monthly SLA report or the quarterly QUAR summary, PDF or HTML)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.catalog.model import Catalog
from agent.indicators.periods import parse_period, time_zone
from agent.indicators.quar_config import QuarConfig
from agent.maintenance import MaintenanceCalendar
from agent.store.sql import SqlStore

MIME = {"pdf": ("application", "pdf"), "html": ("text", "html")}


def period_before(kind: str, fired_at: datetime, timezone: str) -> str:
    """The label of the month (`2026-10`) or quarter (`2026-Q4`) before the local day of
    `fired_at`: a run on 2026-11-01 08:00 reports on October."""
    local = fired_at.astimezone(time_zone(timezone))
    year, month = local.year, local.month
    if kind == "monthly":
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return f"{year:04d}-{month:02d}"
    quarter = (month - 1) // 3 + 1
    year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return f"{year:04d}-Q{quarter}"


@dataclass(frozen=True)
class ReportMaker:
    """Renders one report; blocking (reads the store), so call it from a thread. The catalogue,
    calendar and QUAR targets are read through callables: the running ones at making time."""

    store: SqlStore
    catalog: Callable[[], Catalog]
    calendar: Callable[[], MaintenanceCalendar]
    quar: Callable[[], QuarConfig]
    timezone: str
    lang: str = "pt"
    format: str = "pdf"

    def html(self, kind: str, period: str, version: int, now: datetime) -> str:
        if kind == "monthly":
            from agent.reports.monthly import build_monthly, render_html

            report = build_monthly(
                self.store, self.catalog(), self.calendar(), self.quar(),
                parse_period(period, self.timezone), now, self.timezone,
            )  # fmt: skip
            return render_html(dataclasses.replace(report, version=version), self.lang)
        from agent.reports.quarterly import build_quarterly, render_quarterly

        summary = build_quarterly(
            self.store, self.catalog(), self.calendar(), self.quar(), period, now, self.timezone
        )
        return render_quarterly(dataclasses.replace(summary, version=version), self.lang)

    def content(self, kind: str, period: str, version: int, now: datetime) -> bytes:
        """The file's bytes in the configured format."""
        html = self.html(kind, period, version, now)
        if self.format == "html":
            return html.encode("utf-8")
        from agent.reports.pdf import pdf_bytes

        return pdf_bytes(html)
