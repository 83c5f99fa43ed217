"""What the public status page shows, copied out of the agent's records field by field.

This is the one boundary between internal and public: the templates and the feed see only
these types, which hold a public name, states, figures, times and operators' public messages.
No service id, check, host, URL, team, tier, incident cause or maintenance reason is copied,
so none can reach the page by a template's mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.agent_view import AgentView, calendar_now, live_calendar
from agent.catalog.model import Catalog, Service
from agent.indicators.compute import read_timelines
from agent.indicators.periods import Period
from agent.operations.reading import Live, blocking, live
from agent.records import Incident, MaintenanceWindow, State
from agent.staleness import is_stale
from agent.status import messages
from agent.store.sql import SqlStore

DAYS = 90  # daily bars per service
AHEAD = timedelta(days=30)  # maintenance announced this far ahead is listed
NOTICE_DAYS = 7  # a service's public message is shown this long after it was written
FEED_ENTRIES = 50  # closed incidents in the Atom feed (open ones are always in it)


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    availability: float | None  # percent; None: nothing known that day


@dataclass(frozen=True, slots=True)
class Update:
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class PublicService:
    name: str
    state: str  # up | degraded | down | maintenance | unknown
    days: tuple[Day, ...]
    availability: float | None  # percent over the days shown
    notice: Update | None  # the operators' newest message about it, if recent


@dataclass(frozen=True, slots=True)
class PublicIncident:
    key: int  # the incident's number: the feed's entry ids and the page's anchors
    service: str  # the public name
    started_at: datetime
    ended_at: datetime | None
    updates: tuple[Update, ...]  # oldest first

    @property
    def updated(self) -> datetime:
        times = [self.started_at, *(u.at for u in self.updates)]
        return max([*times, self.ended_at] if self.ended_at else times)


@dataclass(frozen=True, slots=True)
class PublicWindow:
    service: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class PublicView:
    generated_at: datetime
    services: tuple[PublicService, ...]
    incidents: tuple[PublicIncident, ...]  # of the days shown, newest first
    maintenance: tuple[PublicWindow, ...]  # in progress or announced, by start

    @property
    def open_incidents(self) -> tuple[PublicIncident, ...]:
        return tuple(i for i in self.incidents if i.ended_at is None)


async def build_view(agent: AgentView) -> PublicView:
    """The live states on the event loop, then the store's part in a thread."""
    public = tuple(s for s in agent.catalog.services if s.public)
    states = current_states(public, await live(agent), agent, agent.clock.now())
    return await blocking(_stored_part, agent, public, states)


def current_states(
    public: tuple[Service, ...], view: Live, agent: AgentView, now: datetime
) -> dict[str, str]:
    calendar = live_calendar(agent)
    states = {}
    for service in public:
        status = view.service(service.id)
        if calendar is not None and calendar.in_planned(service.id, now):
            states[service.id] = "maintenance"
        elif not service.monitored or is_stale(service, status.last_seen_at, now):
            states[service.id] = State.UNKNOWN.value
        else:
            states[service.id] = status.state.value
    return states


def _stored_part(
    agent: AgentView, public: tuple[Service, ...], states: dict[str, str]
) -> PublicView:
    store, now = agent.store, agent.clock.now()
    zone = ZoneInfo(agent.settings.timezone)
    bounds = day_bounds(now, zone, DAYS)
    names = {s.id: s.shown_name for s in public}
    recent = [i for i in store.incidents(start=bounds[0]) if i.service in names]
    notices = messages.latest_of_services(store, names, now - timedelta(days=NOTICE_DAYS))
    per_day, overall = _availability(agent, public, bounds, now)
    dates = _dates(bounds, zone)
    services = tuple(
        PublicService(
            name=s.shown_name,
            state=states[s.id],
            days=tuple(Day(d, a) for d, a in zip(dates, per_day[s.id], strict=True)),
            availability=overall[s.id],
            notice=_update(notices.get(s.id)),
        )
        for s in public
    )
    return PublicView(
        generated_at=now,
        services=services,
        incidents=_incidents(store, _shown(recent), names),
        maintenance=_windows(store.windows(start=now, end=now + AHEAD), names, now),
    )


def day_bounds(now: datetime, zone: ZoneInfo, days: int) -> tuple[datetime, ...]:
    """Local midnights from `days - 1` days before today's to tomorrow's (days + 1 bounds)."""
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    return tuple(_midnight(first + timedelta(days=n), zone) for n in range(days + 1))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _dates(bounds: tuple[datetime, ...], zone: ZoneInfo) -> list[date]:
    return [b.astimezone(zone).date() for b in bounds[:-1]]


def _availability(
    agent: AgentView, public: tuple[Service, ...], bounds: tuple[datetime, ...], now: datetime
) -> tuple[dict[str, list[float | None]], dict[str, float | None]]:
    """Each public service's availability per day and over all the days (percent), with the
    reports' timelines and arithmetic (semantics.md §4): time after now is unknown."""
    catalog = Catalog(agent.catalog.version, agent.catalog.tiers, public)
    calendar = calendar_now(agent, catalog)
    period = Period(bounds[0], bounds[-1], "status")
    statuses = agent.store.service_statuses()
    timelines = read_timelines(agent.store, catalog, calendar, period, now, statuses)
    per_day: dict[str, list[float | None]] = {}
    overall: dict[str, float | None] = {}
    for service in public:
        timeline = timelines.get(service.id)
        if timeline is None:  # not monitored: nothing known
            per_day[service.id], overall[service.id] = [None] * (len(bounds) - 1), None
            continue
        per_day[service.id] = [_percent(t.availability) for t in timeline.split(bounds)]
        overall[service.id] = _percent(timeline.time(bounds[0], bounds[-1]).availability)
    return per_day, overall


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def _shown(recent: list[Incident]) -> list[Incident]:
    """Newest first: every open incident, and the newest closed ones up to FEED_ENTRIES."""
    closed = [i for i in recent if not i.is_open][-FEED_ENTRIES:]
    chosen = [i for i in recent if i.is_open] + closed
    return sorted(chosen, key=lambda i: (i.started_at, i.id), reverse=True)


def _incidents(
    store: SqlStore, recent: list[Incident], names: dict[str, str]
) -> tuple[PublicIncident, ...]:
    said = messages.of_incidents(store, (i.id for i in recent))
    return tuple(
        PublicIncident(
            key=i.id,
            service=names[i.service],
            started_at=i.started_at,
            ended_at=i.ended_at,
            updates=tuple(Update(m.written_at, m.text) for m in said.get(i.id, ())),
        )
        for i in recent
    )


def _windows(
    found: list[MaintenanceWindow], names: dict[str, str], now: datetime
) -> tuple[PublicWindow, ...]:
    """Planned windows (declared before they started) of public services, not over yet."""
    return tuple(
        PublicWindow(names[w.service], w.start, w.end)
        for w in found
        if w.service in names and not w.retroactive and w.end > now
    )


def _update(message: messages.PublicMessage | None) -> Update | None:
    return None if message is None else Update(message.written_at, message.text)
