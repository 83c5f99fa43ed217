"""The board: every service as a tile, open incidents against the Ind.4 meta, active alerts,
maintenance in progress and the month-to-date indicators.

A live update costs what changed, not the size of the estate. The page sends, for each part it
shows, the token its last answer gave (`have=name:token,...&v=2`) and gets back only the parts
that changed, each with its new token:

- `tiles` (token: a cursor): the tiles changed since, `{"tiles": {service: html}}`; the whole
  grid as `html` when the cursor is unknown (agent restarted, catalogue reloaded, too old).
- `incidents`, `alerts` (token: a cursor): the rows added or changed since and the order of all
  rows, `{"rows": {id: html}, "order": [id, ...]}`; the whole section as `html` when unknown.
- `summary`, `maintenance`, `indicators` (token: a digest of the HTML): the section's `html`.

Without `v=2` (a page loaded before this protocol, still open on a wall screen across an
upgrade) every part comes whole, as before, when the digest of its HTML differs.

Tiles come from a `TileLog` that looks only at services whose results came in; rows and sections
are rendered once per key of what they show (`Fragments`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from agent.access.tokens import Principal, Role
from agent.agent_view import AgentView, live_alerts, live_calendar, live_engine
from agent.catalog.model import LOCAL, MACRO_SERVICES, Catalog, Service
from agent.console.fragments import ICONS, Fragments, Groups, digest
from agent.console.live import RowLog, TileLog
from agent.locations.overview import LocationRow, location_rows
from agent.operations.indicators import quar_config
from agent.operations.reading import Live, blocking, live, sql_store
from agent.operations.views import alert_out
from agent.records import Incident
from agent.store.sql import SqlStore
from alerting import alert_store
from alerting.alert_store import Ack, AlertReader
from alerting.state import AlertState

TIER_ORDER = ("platina", "ouro", "prata", "bronze")
# sent whole when their digest changes
PLAIN = ("summary", "maintenance", "indicators", "locations")
LISTS = {"incidents": "incident", "alerts": "alert"}  # sent by row: section -> row kind
COUNTED = ("down", "degraded", "maintenance", "unknown", "up")  # the summary's counts
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class OpenIncident:
    incident: Incident
    service: Service
    elapsed: float
    level: str  # ok | warn | late, against the Ind.4 meta


@dataclass(frozen=True, slots=True)
class InMaintenance:
    service: Service
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Listed:
    """A list section's rows now, in order: their ids, what each shows (key), the items."""

    ids: list[str]
    keys: list[tuple[Any, ...]]
    items: list[Any]


@dataclass(frozen=True, slots=True)
class Moment:
    """What one render or update reads: the store's part, the engine's part, the figures."""

    now: datetime
    windows: list[InMaintenance]
    lists: dict[str, Listed]  # incidents: OpenIncident items; alerts: (AlertState, acks)
    figures: dict[str, Any] | None
    figures_version: int


def tier_rank(tier: str) -> tuple[int, str]:
    return (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), tier)


def macro_rank(macro: str) -> tuple[int, str]:
    known = MACRO_SERVICES.index(macro) if macro in MACRO_SERVICES else len(MACRO_SERVICES)
    return (known, macro)


def groups(catalog: Catalog) -> Groups:
    """[(tier, [(macro service, services)])], Platinum first; catalogue order inside."""
    by_tier: dict[str, dict[str, list[Service]]] = {}
    for service in catalog.services:
        by_tier.setdefault(service.tier, {}).setdefault(service.macro_service, []).append(service)
    return [
        (tier, sorted(by_tier[tier].items(), key=lambda item: macro_rank(item[0])))
        for tier in sorted(by_tier, key=tier_rank)
    ]


class Board:
    def __init__(self, agent: AgentView, env: Environment) -> None:
        self.agent = agent
        self.month = agent.month_to_date  # shared with /metrics and the API, never computed here
        self.log = TileLog(agent)
        self.log.attach()
        self.rows = {name: RowLog() for name in LISTS}
        self.fragments = Fragments(env)
        self._alerts = AlertReader()
        self._catalog: Catalog | None = None
        self._groups: Groups = []
        self._planned: list[Service] = []  # services with catalogue maintenance rules
        self._figures: dict[str, Any] | None = None
        self._figures_version = 0
        self._quar: tuple[Any, tuple[float, float]] | None = None

    # ---- data -------------------------------------------------------------------------------

    def _layout(self) -> Groups:
        catalog = self.agent.catalog
        if self._catalog is not catalog:  # reloaded: regroup, forget cached tiles
            self._catalog = catalog
            self._groups = groups(catalog)
            self._planned = [s for s in catalog.services if s.maintenance]
            self.fragments.forget_tiles()
        return self._groups

    async def moment(self) -> Moment:
        """Read the store (in a thread), then bring the tiles and the list rows up to date."""
        agent = self.agent
        now = agent.clock.now()
        view = await live(agent)
        self._layout()
        states = self._alert_states()
        ids = None if states is None else [a.alert_id for a in states]
        windows, stored, acks = await blocking(self._stored, sql_store(agent), now, ids)
        self.log.sync(view, {m.service.id for m in windows})
        lists = {
            "incidents": self._incidents(view, now),
            "alerts": _alerts(stored if states is None else states, acks),
        }
        for name, listed in lists.items():
            self.rows[name].update(zip(listed.ids, listed.keys, strict=True))
        figures = self.month.current()
        if figures is not self._figures:
            self._figures, self._figures_version = figures, self._figures_version + 1
        return Moment(now, windows, lists, figures, self._figures_version)

    def open_incidents(self, view: Live, now: datetime) -> list[OpenIncident]:
        """The open incidents of the services whose tile shows one, Platinum and oldest first."""
        amber, red = self.thresholds()
        found = []
        for sid in self.log.open:
            incident = view.open_incident(sid)
            service = self.agent.catalog.by_id.get(sid)
            if incident is None or service is None:
                continue
            elapsed = max(0.0, (now - incident.started_at).total_seconds())
            level = "late" if elapsed > red else "warn" if elapsed >= amber else "ok"
            found.append(OpenIncident(incident, service, elapsed, level))
        found.sort(key=lambda o: (tier_rank(o.service.tier), o.incident.started_at, o.service.id))
        return found

    def _incidents(self, view: Live, now: datetime) -> Listed:
        found, amber_red = self.open_incidents(view, now), self.thresholds()
        keys = [(amber_red, *_incident_key(o)) for o in found]
        return Listed([str(o.incident.id) for o in found], keys, found)

    def thresholds(self) -> tuple[float, float]:
        """(amber, red) in seconds: amber from meta - tolerance, red past the meta."""
        path = self.agent.settings.quar
        stamp = (path, _modified(path) if isinstance(path, str) else None)
        if self._quar is None or self._quar[0] != stamp or (path and stamp[1] is None):
            target = quar_config(self.agent).indicators["ind4"]
            self._quar = (stamp, (60 * (target.target - target.tolerance), 60 * target.target))
        return self._quar[1]

    def in_maintenance(self, store: SqlStore, now: datetime) -> list[InMaintenance]:
        """Blocking: ad-hoc windows open now and catalogue windows now."""
        catalog = self.agent.catalog
        found: dict[str, InMaintenance] = {}
        calendar = live_calendar(self.agent)
        for window in store.windows(start=now, end=now + _INSTANT):
            service = catalog.by_id.get(window.service)
            counts = calendar is None or calendar.in_planned(window.service, now)
            if service is not None and counts:
                found[service.id] = InMaintenance(service, window.end, window.reason)
        planned = self._planned if self._catalog is catalog else catalog.services
        for service in planned:
            if service.maintenance and calendar is not None and service.id not in found:
                windows = calendar.planned(service.id, now, now + _INSTANT)
                if windows:
                    found[service.id] = InMaintenance(service, windows[0][1], "")
        return sorted(found.values(), key=lambda m: (tier_rank(m.service.tier), m.until))

    def _alert_states(self) -> list[AlertState] | None:
        """The running agent's active alerts, from its alerting's memory (the live board may
        read the running agent); None when it has none (then they are read from the store)."""
        alerts = live_alerts(self.agent)
        return None if alerts is None else list(alerts.values())

    def _stored(
        self, store: SqlStore, now: datetime, ids: list[str] | None
    ) -> tuple[list[InMaintenance], list[AlertState], dict[str, list[Ack]]]:
        """Blocking: maintenance now, the acknowledgements of the alerts `ids` (and the active
        alerts themselves when `ids` is None)."""
        states = self._alerts.load(store) if ids is None else []
        acks = alert_store.acks_by_alert(
            store, [a.alert_id for a in states] if ids is None else ids
        )
        return self.in_maintenance(store, now), states, acks

    # ---- rendering --------------------------------------------------------------------------

    async def page(
        self, lang: str, t: Callable[[str], str], who: Principal | None, csrf: str
    ) -> tuple[dict[str, Markup], dict[str, str]]:
        """Every part of the board for a page, and the tokens the page sends back."""
        moment = await self.moment()
        base = self._base(lang, t, who, csrf)
        html: dict[str, Markup] = {}
        tokens: dict[str, str] = {}
        for name in PLAIN:
            section, tokens[name] = self._plain(name, moment, base, fresh=False)
            html[name] = Markup(section)
        for name in LISTS:  # the incidents' elapsed times as of now
            html[name] = Markup(self._list(name, moment, base, fresh=name == "incidents"))
            tokens[name] = self.rows[name].cursor(lang)
        html["tiles"] = Markup(self._grid(lang, t))
        tokens["tiles"] = self.log.cursor(lang)
        return html, tokens

    async def update(
        self,
        lang: str,
        t: Callable[[str], str],
        who: Principal | None,
        csrf: str,
        have: Mapping[str, str],
        by_row: bool = True,
    ) -> dict[str, Any]:
        """A live update: the parts changed since the tokens in `have` (see the module).
        Not `by_row` (a page loaded before this protocol, still open): every part whole,
        when the digest of its HTML differs."""
        moment = await self.moment()
        base = self._base(lang, t, who, csrf)
        sent: dict[str, Any] = {}
        for name in PLAIN:
            html, d = self._plain(name, moment, base, fresh=False)
            if have.get(name) != d:
                sent[name] = {"html": html, "digest": d}
        if not by_row:
            wholes = {name: self._list(name, moment, base, fresh=False) for name in LISTS}
            wholes["tiles"] = self._grid(lang, t)
            for name, html in wholes.items():
                if have.get(name) != (d := digest(html)):
                    sent[name] = {"html": html, "digest": d}
            return {"at": moment.now.isoformat(), "sections": sent}
        for name in LISTS:
            part = self._list_part(name, moment, base, have.get(name, ""))
            if part is not None:
                sent[name] = part
        tiles = self._tiles_part(lang, t, have.get("tiles", ""))
        if tiles is not None:
            sent["tiles"] = tiles
        return {"at": moment.now.isoformat(), "sections": sent}

    def _base(
        self, lang: str, t: Callable[[str], str], who: Principal | None, csrf: str
    ) -> dict[str, Any]:
        can_ack = who is not None and who.role >= Role.OPERATOR
        return {"t": t, "lang": lang, "icons": ICONS, "amber_red": self.thresholds(),
                "csrf": csrf, "who": who, "can_ack": can_ack}  # fmt: skip

    def _plain(
        self, name: str, moment: Moment, base: dict[str, Any], fresh: bool
    ) -> tuple[str, str]:
        key: tuple[Any, ...]
        data: dict[str, Any]
        if name == "summary":
            counts = self.log.counts
            key, data = tuple(counts[state] for state in COUNTED), {"counts": counts}
        elif name == "maintenance":
            windows = moment.windows
            key = tuple((m.service.id, m.service.name, m.until, m.reason) for m in windows)
            data = {"windows": windows}
        elif name == "locations":
            rows = self._locations(moment.now)
            key, data = tuple(rows), {"locations": rows, "now": moment.now}
        else:
            key, data = (moment.figures_version,), {"figures": moment.figures}
        return self.fragments.section(name, (base["lang"], key), lambda: {**base, **data}, fresh)

    def _locations(self, now: datetime) -> list[LocationRow]:
        """The worker locations (none: the panel stays empty and hidden)."""
        agent, engine = self.agent, live_engine(self.agent)
        if engine is None or len(agent.locations.seen) <= 1:  # `local` alone
            return []
        rows = location_rows(agent.catalog, agent.locations, engine.failing_locations, now)
        return [row for row in rows if row.name != LOCAL]

    def _list(self, name: str, moment: Moment, base: dict[str, Any], fresh: bool) -> str:
        """A list section whole: its header and every row."""
        listed = moment.lists[name]

        def context() -> dict[str, Any]:
            rows = [self._row(name, listed, i, base, fresh) for i in range(len(listed.ids))]
            return {**base, "rows": rows}

        key = (base["lang"], _session(name, base), tuple(listed.keys))
        return self.fragments.section(name, key, context, fresh)[0]

    def _row(self, name: str, listed: Listed, i: int, base: dict[str, Any], fresh: bool) -> Markup:
        kind, item = LISTS[name], listed.items[i]

        def context() -> dict[str, Any]:
            if kind == "incident":
                return {**base, "o": item}
            return {**base, "a": alert_out(item[0], item[1], [])}

        key = (base["lang"], _session(name, base), listed.keys[i])
        return self.fragments.row(kind, key, context, fresh)

    def _list_part(
        self, name: str, moment: Moment, base: dict[str, Any], token: str
    ) -> dict[str, Any] | None:
        log, listed = self.rows[name], moment.lists[name]
        cursor = log.cursor(base["lang"])
        changed = log.since(token, base["lang"])
        if changed is None:
            return {"html": self._list(name, moment, base, fresh=False), "digest": cursor}
        if not changed:
            return None
        rows = {
            ident: self._row(name, listed, i, base, fresh=False)
            for i, ident in enumerate(listed.ids)
            if ident in changed
        }
        return {"rows": rows, "order": listed.ids, "digest": cursor}

    def _grid(self, lang: str, t: Callable[[str], str]) -> str:
        version = (self.log.epoch, self.log.version, lang)
        return self.fragments.grid(version, self._layout(), self.log.tiles, lang, t)

    def _tiles_part(self, lang: str, t: Callable[[str], str], token: str) -> dict[str, Any] | None:
        cursor = self.log.cursor(lang)
        changed = self.log.since(token, lang)
        if changed is None:
            return {"html": self._grid(lang, t), "digest": cursor}
        if not changed:
            return None
        tiles = self.log.tiles
        found = {sid: self.fragments.tile(tiles[sid], lang, t) for sid in changed if sid in tiles}
        return {"tiles": found, "digest": cursor}


def _modified(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None  # read it again: `quar_config` says what is wrong


def _session(name: str, base: Mapping[str, Any]) -> Any:
    """What of the viewer an alert row shows: the acknowledge form (with its CSRF field)."""
    return base["can_ack"] and base["csrf"] if name == "alerts" else None


def _incident_key(o: OpenIncident) -> tuple[Any, ...]:
    """What an incident's row shows, but its running elapsed time (the page ticks it)."""
    i, s = o.incident, o.service
    return (i.id, i.started_at, i.root_cause, i.cause, o.level, s.id, s.name, s.tier, s.pcn)


def _alert_key(alert: AlertState, acks: list[Ack]) -> tuple[Any, ...]:
    """What `alert_out` (and so an alert's row) makes of an alert and its acks."""
    shown = (alert.alert_id, alert.rule, alert.service, alert.state, alert.active_since,
             alert.labels.get("severity", ""), alert.annotations.get("summary", ""),
             alert.acked_by is not None)  # fmt: skip
    return (*shown, *((k.author, k.comment, k.created_at) for k in acks))


def _alerts(states: list[AlertState], acks: dict[str, list[Ack]]) -> Listed:
    """The active alerts with their acks, firing first, then oldest first."""
    found = [(a, acks.get(a.alert_id, [])) for a in states]
    found.sort(key=lambda pair: (pair[0].state != "firing", pair[0].active_since, pair[0].alert_id))
    return Listed([a.alert_id for a, _ in found], [_alert_key(*pair) for pair in found], found)
