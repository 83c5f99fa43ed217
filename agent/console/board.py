"""The board: every service as a tile, open incidents against the Ind.4 meta, active alerts,
maintenance in progress and the month-to-date indicators, as HTML sections.

Live updates re-render only what changed: each tile's HTML is cached by its visible state, and
the client sends the digest of each section it has, so an unchanged section is not sent.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jinja2 import Environment
from markupsafe import Markup, escape

from agent.api.auth import Principal
from agent.api.context import Live, blocking, live, sql_store
from agent.api.indicators import MonthToDate, quar_config
from agent.api.models import AlertOut
from agent.api.views import AlertReader, alerts
from agent.catalog.model import MACRO_SERVICES, Catalog, Service
from agent.records import Incident, State
from agent.store.sql import SqlStore

if TYPE_CHECKING:
    from agent.runtime import Agent

TIER_ORDER = ("platina", "ouro", "prata", "bronze")
ICONS = {
    "up": "✔",
    "degraded": "▲",
    "down": "✖",
    "unknown": "?",
    "maintenance": "⚒",
    "unmonitored": "–",
}
SECTIONS = ("summary", "incidents", "alerts", "maintenance", "indicators", "tiles")
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Tile:
    service: Service
    state: str  # a key of ICONS
    flapping: bool
    incident: int | None


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


def tier_rank(tier: str) -> tuple[int, str]:
    return (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), tier)


def macro_rank(macro: str) -> tuple[int, str]:
    known = MACRO_SERVICES.index(macro) if macro in MACRO_SERVICES else len(MACRO_SERVICES)
    return (known, macro)


def groups(catalog: Catalog) -> list[tuple[str, list[tuple[str, list[Service]]]]]:
    """[(tier, [(macro service, services)])], Platinum first; catalogue order inside."""
    by_tier: dict[str, dict[str, list[Service]]] = {}
    for service in catalog.services:
        by_tier.setdefault(service.tier, {}).setdefault(service.macro_service, []).append(service)
    return [
        (tier, sorted(by_tier[tier].items(), key=lambda item: macro_rank(item[0])))
        for tier in sorted(by_tier, key=tier_rank)
    ]


class Board:
    def __init__(self, agent: Agent, env: Environment) -> None:
        self.agent = agent
        self.env = env
        self.month = MonthToDate(agent)
        self._alerts = AlertReader()
        self._tiles: dict[tuple[Any, ...], str] = {}
        self._catalog: Catalog | None = None
        self._groups: list[tuple[str, list[tuple[str, list[Service]]]]] = []

    # ---- data -------------------------------------------------------------------------------

    def _layout(self) -> list[tuple[str, list[tuple[str, list[Service]]]]]:
        if self._catalog is not self.agent.catalog:  # reloaded: regroup, forget cached tiles
            self._catalog = self.agent.catalog
            self._groups = groups(self._catalog)
            self._tiles.clear()
        return self._groups

    def tiles(self, view: Live, maintenance: set[str]) -> dict[str, Tile]:
        out: dict[str, Tile] = {}
        for service in self.agent.catalog.services:
            status = view.service(service.id)
            state = status.state.value
            if not service.monitored:
                state = "unmonitored"
            elif service.id in maintenance and status.state is not State.DOWN:
                state = "maintenance"
            out[service.id] = Tile(service, state, status.flapping, status.open_incident)
        return out

    def open_incidents(self, view: Live, now: datetime) -> list[OpenIncident]:
        amber, red = self.thresholds()
        found = []
        for service in self.agent.catalog.services:
            incident = view.open_incident(service.id)
            if incident is None:
                continue
            elapsed = max(0.0, (now - incident.started_at).total_seconds())
            level = "late" if elapsed > red else "warn" if elapsed >= amber else "ok"
            found.append(OpenIncident(incident, service, elapsed, level))
        found.sort(key=lambda o: (tier_rank(o.service.tier), o.incident.started_at))
        return found

    def thresholds(self) -> tuple[float, float]:
        """(amber, red) in seconds: amber from meta - tolerance, red past the meta."""
        target = quar_config(self.agent).indicators["ind4"]
        return 60 * (target.target - target.tolerance), 60 * target.target

    def in_maintenance(self, store: SqlStore, now: datetime) -> list[InMaintenance]:
        """Blocking: ad-hoc windows open now and catalogue windows now."""
        catalog = self.agent.catalog
        found: dict[str, InMaintenance] = {}
        calendar = getattr(self.agent, "calendar", None)
        for window in store.windows(start=now, end=now + _INSTANT):
            service = catalog.by_id.get(window.service)
            counts = calendar is None or calendar.in_planned(window.service, now)
            if service is not None and counts:
                found[service.id] = InMaintenance(service, window.end, window.reason)
        for service in catalog.services:
            if service.maintenance and calendar is not None and service.id not in found:
                planned = calendar.planned(service.id, now, now + _INSTANT)
                if planned:
                    found[service.id] = InMaintenance(service, planned[0][1], "")
        return sorted(found.values(), key=lambda m: (tier_rank(m.service.tier), m.until))

    # ---- rendering --------------------------------------------------------------------------

    async def render(
        self, lang: str, t: Callable[[str], str], who: Principal | None, csrf: str
    ) -> dict[str, str]:
        agent = self.agent
        now = agent.clock.now()
        view = await live(agent)
        store = sql_store(agent)
        windows, active = await blocking(self._stored, store, now)
        tiles = self.tiles(view, {m.service.id for m in windows})
        incidents = self.open_incidents(view, now)
        context = {
            "t": t, "lang": lang, "who": who, "csrf": csrf, "now": now, "icons": ICONS,
            "incidents": incidents, "alerts": active, "windows": windows,
            "figures": self.month.current(), "amber_red": self.thresholds(),
            "counts": Counter(tile.state for tile in tiles.values()),
        }  # fmt: skip
        out = {
            name: self.env.get_template(f"_{name}.html.j2").render(context)
            for name in SECTIONS
            if name != "tiles"
        }
        out["tiles"] = self._tiles_html(tiles, lang, t)
        return out

    def _stored(self, store: SqlStore, now: datetime) -> tuple[list[InMaintenance], list[AlertOut]]:
        return self.in_maintenance(store, now), board_alerts(store, self._alerts)

    def _tiles_html(self, tiles: Mapping[str, Tile], lang: str, t: Callable[[str], str]) -> str:
        parts: list[str] = []
        for tier, macros in self._layout():
            parts.append(f'<section class="tier" aria-labelledby="tier-{escape(tier)}">')
            parts.append(f'<h3 id="tier-{escape(tier)}" class="tier-name">{escape(tier)}</h3>')
            for macro, services in macros:
                parts.append(f'<div class="macro"><h4>{escape(macro)}</h4><ul class="tiles">')
                parts.extend(self._tile(tiles[s.id], lang, t) for s in services if s.id in tiles)
                parts.append("</ul></div>")
            parts.append("</section>")
        return "".join(parts)

    def _tile(self, tile: Tile, lang: str, t: Callable[[str], str]) -> str:
        s = tile.service
        key = (s.id, s.name, tile.state, tile.flapping, tile.incident, lang)
        html = self._tiles.get(key)
        if html is None:
            label = t(f"state.{tile.state}")
            flap = f' <span class="flap">↯ {t("flapping")}</span>' if tile.flapping else ""
            html = (
                f'<li><a class="tile s-{tile.state}" id="tile-{escape(s.id)}" '
                f'href="/services/{escape(s.id)}" data-state="{tile.state}">'
                f'<span class="icon" aria-hidden="true">{ICONS[tile.state]}</span>'
                f'<span class="name">{escape(s.name)}</span>'
                f'<span class="state">{label}{flap}</span></a></li>'
            )
            if len(self._tiles) > 50_000:
                self._tiles.clear()
            self._tiles[key] = html
        return html


def board_alerts(store: SqlStore, reader: AlertReader) -> list[AlertOut]:
    """Blocking: active alerts with their acks (no delivery history: the board does not show it)."""
    return alerts(store, deliveries=False, reader=reader)


def digest(html: str) -> str:
    return hashlib.blake2b(html.encode(), digest_size=8).hexdigest()


def markup(sections: Mapping[str, str]) -> dict[str, Markup]:
    return {name: Markup(html) for name, html in sections.items()}
