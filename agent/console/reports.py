"""Reports from the console: the monthly report and the incident review, rendered on demand.

`agent.reports` is optional in a build; without it the pages link to the indicator JSON only.
"""

from __future__ import annotations

from agent.agent_view import AgentView, calendar_now
from agent.indicators.periods import parse_period
from agent.operations.indicators import quar_config
from agent.operations.reading import sql_store


def available() -> bool:
    try:
        import agent.reports.incident_review
        import agent.reports.monthly  # noqa: F401
    except ImportError:
        return False
    return True


def recent_months(current: str, count: int) -> list[str]:
    year, month = (int(part) for part in current.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def monthly_html(agent: AgentView, month: str, lang: str) -> str | None:
    """Blocking: the monthly report page, or None for a bad month or no reports module."""
    if not available() or len(month) != 7:
        return None
    from agent.reports.monthly import build_monthly, render_html

    try:
        period = parse_period(month, agent.settings.timezone)
    except ValueError:
        return None
    calendar = calendar_now(agent)
    tz = agent.settings.timezone
    report = build_monthly(
        agent.store, agent.catalog, calendar, quar_config(agent), period, agent.clock.now(), tz
    )
    return render_html(report, lang)


def incident_review_html(agent: AgentView, incident_id: int, lang: str) -> str | None:
    if not available() or not 0 < incident_id < 2**63:
        return None
    from agent.reports.incident_review import build_review, render_review
    from agent.store.errors import UnknownIncidentError

    try:
        review = build_review(
            sql_store(agent), agent.catalog, quar_config(agent), incident_id,
            agent.clock.now(), agent.settings.timezone,
        )  # fmt: skip
    except UnknownIncidentError:
        return None
    return render_review(review, lang)
