"""The monthly report's charts, drawn by matplotlib (Agg, no display) as inline SVG strings.

Figures are built with the object API (no pyplot global state), so rendering is thread-safe
and deterministic: fixed hash salt, no date in the metadata, text kept as text.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context
from matplotlib.figure import Figure

from agent.reports.i18n import Formatter
from agent.reports.monthly_model import MonthlyReport

TIER_COLOURS = {"platina": "#5b6b7a", "ouro": "#c9a227", "prata": "#8fa3b0", "bronze": "#a0522d"}
_STYLE: dict[Any, Any] = {"svg.hashsalt": "vigia", "svg.fonttype": "none", "font.size": 8}
MAX_TIMELINE_SERVICES = 25


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with rc_context(_STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


def _figure(height: float = 2.6) -> Figure:
    with rc_context(_STYLE):
        return Figure(figsize=(7.0, height), dpi=96)


def daily_availability(report: MonthlyReport, fmt: Formatter) -> str:
    """One line per tier: mean availability of its known services, day by day."""
    if not any(v is not None for values in report.daily.values() for v in values):
        return ""
    figure = _figure()
    axes = figure.add_subplot()
    days = [d.day for d in report.days]
    for tier, values in report.daily.items():
        ys = [float("nan") if v is None else v for v in values]
        axes.plot(days, ys, marker="o", markersize=2.5, linewidth=1.2, label=tier,
                  color=TIER_COLOURS.get(tier))  # fmt: skip
    target = report.quar.indicators["ind3"].target
    axes.axhline(target, color="#b22222", linestyle="--", linewidth=0.8,
                 label=f"{fmt.t('target')} {fmt.number(target, 1)} %")  # fmt: skip
    axes.set_xlabel(fmt.t("day"))
    axes.set_ylabel(f"{fmt.t('availability')} (%)")
    axes.set_xlim(0.5, max(days) + 0.5)
    axes.grid(True, linewidth=0.3)
    axes.legend(loc="lower left", fontsize=7, ncol=5)
    return _svg(figure)


def restore_distribution(report: MonthlyReport, fmt: Formatter) -> str:
    """Histogram of the Ind.4 restoration times, with the meta and its band."""
    minutes = [p.restore_seconds / 60 for p in report.platinum if p.restore_seconds is not None]
    if not minutes:
        return ""
    target = report.quar.indicators["ind4"]
    figure = _figure()
    axes = figure.add_subplot()
    axes.hist(minutes, bins=min(20, max(5, len(minutes))), color="#5b6b7a", edgecolor="white")
    axes.axvspan(target.lower, target.upper, color="#c9a227", alpha=0.2)
    axes.axvline(target.target, color="#b22222", linestyle="--", linewidth=0.8,
                 label=f"{fmt.t('target')} {fmt.number(target.target, 0)} min")  # fmt: skip
    axes.set_xlabel(f"{fmt.t('restore')} ({fmt.t('minutes')})")
    axes.set_ylabel(fmt.t("count"))
    axes.legend(fontsize=7)
    return _svg(figure)


def incident_timeline(report: MonthlyReport, fmt: Formatter) -> str:
    """One row per service with incidents (the most affected first), bars over the month."""
    period = report.period
    spans: dict[str, list[tuple[float, float]]] = {}
    for incident in report.indicators.incidents:
        begin = max(incident.started_at, period.start)
        finish = min(incident.ended_at or report.generated_at, period.end, report.generated_at)
        if finish > begin:
            start_day = (begin - period.start).total_seconds() / 86400
            width = (finish - begin).total_seconds() / 86400
            spans.setdefault(incident.service, []).append((start_day, max(width, 0.02)))
    if not spans:
        return ""
    ranked = sorted(spans, key=lambda s: (-sum(w for _, w in spans[s]), s))
    shown = ranked[:MAX_TIMELINE_SERVICES]
    figure = _figure(height=max(1.6, 0.18 * len(shown) + 0.8))
    axes = figure.add_subplot()
    for row, service in enumerate(reversed(shown)):
        axes.broken_barh(spans[service], (row - 0.35, 0.7), color="#b22222")
    axes.set_yticks(range(len(shown)), list(reversed(shown)), fontsize=6)
    axes.set_xlim(0, period.seconds / 86400)
    axes.set_xlabel(fmt.t("day"))
    axes.grid(True, axis="x", linewidth=0.3)
    return _svg(figure)
