"""The board's HTML, each piece rendered once per key of what it shows: a tile, an incident
or alert row, a section. A live update re-renders only what changed since the last one."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, Template
from markupsafe import Markup, escape

from agent.catalog.model import Service
from agent.console.live import Tile

ICONS = {
    "up": "✔",
    "degraded": "▲",
    "down": "✖",
    "unknown": "?",
    "maintenance": "⚒",
    "unmonitored": "–",
}
KEPT = 8192  # cached pieces of each kind, beyond which the cache starts again

Fragment = tuple[str, str]  # (html, digest)
Groups = list[tuple[str, list[tuple[str, list[Service]]]]]
Context = Callable[[], Mapping[str, Any]]


class Fragments:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self._templates: dict[str, Template] = {}  # loaded once: no file check per render
        self._sections: dict[tuple[Any, ...], Fragment] = {}
        self._rows: dict[tuple[Any, ...], str] = {}
        self._tiles: dict[tuple[Any, ...], str] = {}
        self._grid: tuple[tuple[Any, ...], str] | None = None

    def section(self, name: str, key: tuple[Any, ...], context: Context, fresh: bool) -> Fragment:
        """`_<name>.html.j2` and its digest, rendered once per key (always when `fresh`)."""
        cache_key = (name, *key)
        found = None if fresh else self._sections.get(cache_key)
        if found is None:
            html = self._template(f"_{name}.html.j2").render(context())
            found = (html, digest(html))
            _keep(self._sections, cache_key, found)
        return found

    def row(self, kind: str, key: tuple[Any, ...], context: Context, fresh: bool) -> Markup:
        """`_<kind>_row.html.j2`, rendered once per key (always when `fresh`)."""
        cache_key = (kind, *key)
        html = None if fresh else self._rows.get(cache_key)
        if html is None:
            html = self._template(f"_{kind}_row.html.j2").render(context())
            _keep(self._rows, cache_key, html)
        return Markup(html)

    def grid(
        self, version: tuple[Any, ...], groups: Groups, tiles: Mapping[str, Tile], lang: str,
        t: Callable[[str], str],
    ) -> str:  # fmt: skip
        """Every tile by tier and macro service, rendered once per tiles `version`."""
        if self._grid is None or self._grid[0] != version:
            parts: list[str] = []
            for tier, macros in groups:
                parts.append(f'<section class="tier" aria-labelledby="tier-{escape(tier)}">')
                parts.append(f'<h3 id="tier-{escape(tier)}" class="tier-name">{escape(tier)}</h3>')
                for macro, services in macros:
                    parts.append(f'<div class="macro"><h4>{escape(macro)}</h4><ul class="tiles">')
                    parts.extend(self.tile(tiles[s.id], lang, t) for s in services if s.id in tiles)
                    parts.append("</ul></div>")
                parts.append("</section>")
            self._grid = (version, "".join(parts))
        return self._grid[1]

    def tile(self, tile: Tile, lang: str, t: Callable[[str], str]) -> str:
        """One tile's `<li>`: state by colour, icon and word."""
        s = tile.service
        key = (s.id, s.name, *tile.key, lang)
        html = self._tiles.get(key)
        if html is None:
            label = t(f"state.{tile.state}")
            flap = f' <span class="flap">↯ {t("flapping")}</span>' if tile.flapping else ""
            stale = f' <span class="stale">⏱ {t("stale_state")}</span>' if tile.stale else ""
            where = ", ".join(escape(name) for name in tile.failing_at)
            if where:
                stale += f' <span class="where">⚠ {t("failing_at")} {where}</span>'

            html = (
                f'<li><a class="tile s-{tile.state}{" stale" if tile.stale else ""}" '
                f'id="tile-{escape(s.id)}" href="/services/{escape(s.id)}" '
                f'data-state="{tile.state}" data-stale="{str(tile.stale).lower()}">'
                f'<span class="icon" aria-hidden="true">{ICONS[tile.state]}</span>'
                f'<span class="name">{escape(s.name)}</span>'
                f'<span class="state">{label}{flap}{stale}</span></a></li>'
            )
            _keep(self._tiles, key, html)
        return html

    def _template(self, name: str) -> Template:
        found = self._templates.get(name)
        if found is None:
            found = self._templates[name] = self.env.get_template(name)
        return found

    def forget_tiles(self) -> None:
        """The catalogue changed: names and layout may have."""
        self._tiles.clear()
        self._grid = None


def _keep(cache: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    if len(cache) >= KEPT:
        cache.clear()
    cache[key] = value


def digest(html: str) -> str:
    return hashlib.blake2b(html.encode(), digest_size=8).hexdigest()
