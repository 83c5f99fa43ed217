"""The monthly SLA report: figures (built from `compute_indicators`), then HTML, CSV, JSON, PDF.

Every figure comes from the same `Indicators` the `vigia indicators` command prints; the daily
series reuse each service's `Timeline`, so a day's arithmetic is the period's arithmetic.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.catalog.model import LOCAL, Catalog
from agent.indicators.compute import compute_indicators
from agent.indicators.documents import to_json
from agent.indicators.figures import Indicators, ServiceFigures
from agent.indicators.periods import Period
from agent.indicators.quar import assess
from agent.indicators.quar_config import QuarConfig
from agent.indicators.timeline import cached_rule_windows
from agent.maintenance import MaintenanceCalendar
from agent.records import Incident
from agent.reports import charts, render
from agent.reports.csvsafe import write_rows
from agent.reports.i18n import Formatter
from agent.reports.monthly_model import (
    ClockStepRow,
    GroupRow,
    LocationProbes,
    MonthlyReport,
    PlatinumRow,
    WindowRow,
)
from agent.store.base import Store
from agent.store.bulk import PrefetchedTimelines
from agent.store.sql import SqlStore

FORMATS = ("html", "csv", "json", "pdf")
TOP_OFFENDERS = 10


def build_monthly(
    store: Store,
    catalog: Catalog,
    calendar: MaintenanceCalendar,
    quar: QuarConfig,
    period: Period,
    now: datetime,
    timezone: str,
    *,
    by_location: bool = False,
) -> MonthlyReport:
    """`by_location`: add the appendix of probes by location, which reads every raw result of
    the period (one grouped query), so it is asked for rather than always made."""
    source = None
    if isinstance(store, SqlStore) and now > period.start:  # two queries instead of 2 per service
        source = PrefetchedTimelines(store, period.start, min(period.end, now))
    ind = compute_indicators(store, catalog, calendar, period, now, source)
    days = _days(period, timezone)
    return MonthlyReport(
        period=period,
        generated_at=now,
        timezone=timezone,
        quar=quar,
        indicators=ind,
        assessment=assess(ind.values(), quar),
        by_macro=_groups(ind.services, lambda f: f.macro_service),
        by_tier=_groups(ind.services, lambda f: f.tier),
        offenders=_offenders(ind.services),
        platinum=_platinum(ind.incidents, period),
        windows=_windows(store, catalog, calendar, period),
        days=tuple(d for d, _ in days),
        daily=_daily(ind, days),
        clock_steps=tuple(ClockStepRow(*s) for s in store.clock_steps(period.start, period.end)),
        by_location=_by_location(store, period) if by_location else (),
    )


# ---- figures ---------------------------------------------------------------------------------


def _groups(figures: Sequence[ServiceFigures], key: Any) -> tuple[GroupRow, ...]:
    grouped: dict[str, list[ServiceFigures]] = {}
    for f in figures:
        if f.monitored:
            grouped.setdefault(key(f), []).append(f)
    return tuple(_group(name, members) for name, members in sorted(grouped.items()))


def _group(name: str, members: list[ServiceFigures]) -> GroupRow:
    known = [f.availability for f in members if f.availability is not None]
    return GroupRow(
        name=name,
        services=len(members),
        known=len(known),
        availability=statistics.fmean(known) if known else None,
        down_seconds=sum(f.down_seconds for f in members),
        incidents=sum(f.incidents for f in members),
    )


def _offenders(figures: Sequence[ServiceFigures]) -> tuple[ServiceFigures, ...]:
    down = [f for f in figures if f.down_seconds > 0]
    down.sort(key=lambda f: (-f.down_seconds, f.id))
    return tuple(down[:TOP_OFFENDERS])


def _platinum(incidents: Iterable[Incident], period: Period) -> tuple[PlatinumRow, ...]:
    rows = []
    for i in incidents:
        if not (i.tier == "platina" and i.pcn):
            continue
        counted = i.ended_at is not None and period.start <= i.ended_at < period.end
        still_open = i.started_at < period.end and (i.ended_at is None or i.ended_at >= period.end)
        if counted or still_open:
            rows.append(PlatinumRow(i, counted, i.restore_seconds if counted else None))
    return tuple(rows)


def _windows(
    store: Store, catalog: Catalog, calendar: MaintenanceCalendar, period: Period
) -> tuple[WindowRow, ...]:
    rows = [
        WindowRow(
            w.service, "adhoc", w.start, w.end, w.reason, w.author,
            w.retroactive and not calendar.allow_retroactive, w.cancelled_at is not None, 1,
            (min(w.end, period.end) - max(w.start, period.start)).total_seconds(),
        )
        for w in store.windows(start=period.start, end=period.end, include_cancelled=True)
    ]  # fmt: skip
    for service in catalog.services:
        for rule in service.maintenance:
            found = cached_rule_windows(rule, period.start, period.end)
            if found:
                seconds = sum(
                    (min(b, period.end) - max(a, period.start)).total_seconds() for a, b in found
                )
                rows.append(
                    WindowRow(service.id, "recurring", None, None, rule.reason or rule.cron,
                              "", False, False, len(found), seconds)
                )  # fmt: skip
    return tuple(rows)


WORST_PER_LOCATION = 10


def _by_location(store: Store, period: Period) -> tuple[LocationProbes, ...]:
    if not isinstance(store, SqlStore):
        return ()
    counts: dict[str, dict[str, list[int]]] = {}  # location -> service -> [good, judged, all]
    for location, service, outcome, n in store.location_outcomes(period.start, period.end):
        tally = counts.setdefault(location, {}).setdefault(service, [0, 0, 0])
        tally[2] += n
        if outcome != "unknown":
            tally[1] += n
            tally[0] += n if outcome != "fail" else 0
    if set(counts) <= {LOCAL}:
        return ()
    return tuple(_location_row(name, counts[name]) for name in sorted(counts))


def _location_row(name: str, services: dict[str, list[int]]) -> LocationProbes:
    good = sum(t[0] for t in services.values())
    judged = sum(t[1] for t in services.values())
    ratios = sorted((t[0] / t[1], sid) for sid, t in services.items() if t[1] and t[0] < t[1])
    worst = tuple((sid, ratio) for ratio, sid in ratios[:WORST_PER_LOCATION])
    total = sum(t[2] for t in services.values())
    return LocationProbes(name, total, good / judged if judged else None, worst)


def _days(period: Period, timezone: str) -> list[tuple[date, tuple[datetime, datetime]]]:
    """Local calendar days of the period, as UTC [start, end) pairs."""
    zone = ZoneInfo(timezone)
    day = period.start.astimezone(zone).date()
    out: list[tuple[date, tuple[datetime, datetime]]] = []
    while True:
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        if start >= period.end:
            return out
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        out.append((day, (max(start, period.start), min(end, period.end))))
        day = following


def _daily(
    ind: Indicators, days: list[tuple[date, tuple[datetime, datetime]]]
) -> dict[str, tuple[float | None, ...]]:
    if not days:
        return {}
    # the days are contiguous: split each timeline at their bounds in one pass
    bounds = (days[0][1][0], *(end for _, (_, end) in days))
    known: dict[str, list[list[float]]] = {}  # tier -> per day, the known availabilities
    for f in ind.services:
        if not f.monitored:
            continue
        per_day = known.setdefault(f.tier, [[] for _ in days])
        for values, time in zip(per_day, ind.timelines[f.id].split(bounds), strict=True):
            if (value := time.availability) is not None:
                values.append(value * 100)
    return {
        tier: tuple(statistics.fmean(v) if v else None for v in per_day)
        for tier, per_day in sorted(known.items())
    }


# ---- outputs ---------------------------------------------------------------------------------


def write_monthly(
    report: MonthlyReport,
    out: Path,
    formats: Sequence[str],
    lang: str,
    starting: Callable[[str], None] = lambda _format: None,
) -> list[Path]:
    """Write the requested formats into `out`; returns the files written. `starting` is told
    each format before it is written (the command's progress)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"vigia-{report.period.label}"
    written: list[Path] = []
    html = render_html(report, lang) if {"html", "pdf"} & set(formats) else ""
    if "html" in formats:
        starting("html")
        written.append(_write(out / f"{stem}.html", html))
    if "json" in formats:
        starting("json")
        text = json.dumps(report_json(report), ensure_ascii=False, indent=2)
        written.append(_write(out / f"{stem}.json", text + "\n"))
    if "csv" in formats:
        starting("csv")
        written.append(_write_csv(out / f"{stem}-servicos.csv", service_rows(report)))
        written.append(_write_csv(out / f"{stem}-quar.csv", quar_rows(report)))
    if "pdf" in formats:
        starting("pdf")
        from agent.reports.pdf import write_pdf

        written.append(write_pdf(html, out / f"{stem}.pdf"))
    return written


def render_html(report: MonthlyReport, lang: str) -> str:
    fmt = Formatter.of(lang, report.timezone)
    svg = {
        "daily": charts.daily_availability(report, fmt),
        "restore": charts.restore_distribution(report, fmt),
        "timeline": charts.incident_timeline(report, fmt),
    }
    return render("monthly.html.j2", r=report, f=fmt, charts=svg, lang=lang)


def report_json(report: MonthlyReport) -> dict[str, Any]:
    doc = to_json(report.indicators, report.quar)
    doc["generated_at"] = report.generated_at.isoformat()
    doc["has_data"] = report.has_data
    doc["by_macro_service"] = [_group_json(g) for g in report.by_macro]
    doc["by_tier"] = [_group_json(g) for g in report.by_tier]
    doc["top_offenders"] = [f.id for f in report.offenders]
    doc["platinum_incidents"] = [_platinum_json(p) for p in report.platinum]
    doc["maintenance_windows"] = [_window_json(w) for w in report.windows]
    doc["clock_steps"] = [
        {"at": c.at.isoformat(), "seconds": c.seconds, "suspect_from": c.suspect_from.isoformat(),
         "suspect_to": c.suspect_to.isoformat()}
        for c in report.clock_steps
    ]  # fmt: skip
    doc["by_location"] = [
        {"location": row.location, "probes": row.probes, "success": row.success,
         "worst": [{"service": sid, "success": ratio} for sid, ratio in row.worst]}
        for row in report.by_location
    ]  # fmt: skip
    doc["daily"] = {
        "days": [d.isoformat() for d in report.days],
        "by_tier": {tier: list(values) for tier, values in report.daily.items()},
    }
    return doc


def _group_json(g: GroupRow) -> dict[str, Any]:
    return {
        "name": g.name, "services": g.services, "known": g.known,
        "availability": g.availability, "down_seconds": g.down_seconds, "incidents": g.incidents,
    }  # fmt: skip


def _platinum_json(p: PlatinumRow) -> dict[str, Any]:
    i = p.incident
    return {
        "id": i.id, "service": i.service, "started_at": i.started_at.isoformat(),
        "ended_at": None if i.ended_at is None else i.ended_at.isoformat(),
        "restore_seconds": p.restore_seconds, "counted": p.counted,
        "maintenance_seconds": i.maintenance_seconds, "root_cause": i.root_cause,
        "locations": list(i.locations), "retroactive": i.retroactive,
    }  # fmt: skip


def _window_json(w: WindowRow) -> dict[str, Any]:
    return {
        "service": w.service, "kind": w.kind,
        "start": None if w.start is None else w.start.isoformat(),
        "end": None if w.end is None else w.end.isoformat(),
        "reason": w.reason, "author": w.author, "retroactive": w.retroactive,
        "cancelled": w.cancelled, "occurrences": w.occurrences, "seconds": w.seconds,
    }  # fmt: skip


SERVICE_COLUMNS = (
    "id", "name", "tier", "macro_service", "pcn", "monitored", "availability", "up_seconds",
    "degraded_seconds", "down_seconds", "maintenance_seconds", "unknown_seconds", "incidents",
    "longest_incident_seconds",
)  # fmt: skip


def service_rows(report: MonthlyReport) -> list[list[Any]]:
    """Per-service figures; N/A is an empty cell, never 100."""
    rows: list[list[Any]] = [list(SERVICE_COLUMNS)]
    for f in report.indicators.services:
        rows.append(["" if (v := getattr(f, c)) is None else v for c in SERVICE_COLUMNS])
    return rows


def quar_rows(report: MonthlyReport) -> list[list[Any]]:
    header = ["indicator", "target", "tolerance", "critical", "weight", "result", "tr", "grade"]
    rows: list[list[Any]] = [header]
    for key, g in report.assessment.indicators.items():
        t = g.target
        rows.append([key, t.target, t.tolerance, t.critical, t.weight,
                     _cell(g.result), _cell(g.tr), _cell(g.grade)])  # fmt: skip
    objective = report.assessment.objective
    rows.append([objective.name, report.quar.objective.threshold, "", "", 100, "",
                 _cell(objective.tr), _cell(objective.grade)])  # fmt: skip
    return rows


def _cell(value: Any) -> Any:
    return "" if value is None else str(value) if not isinstance(value, float) else value


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _write_csv(path: Path, rows: list[list[Any]]) -> Path:
    return write_rows(path, rows)  # formulas neutralised: names and reasons are user text
