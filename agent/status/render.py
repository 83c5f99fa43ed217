"""The status page's HTML (Jinja2, autoescaped, no script) and its Atom feed (RFC 4287)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.console.fragments import ICONS
from agent.reports.i18n import Formatter
from agent.status.i18n import STATUS
from agent.status.view import DAYS, PublicIncident, PublicView

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PAGE = "/status"
FEED = "/status/feed.atom"
FULL, MINOR = (
    99.95,
    99.0,
)  # percent: a day at or above FULL is a full bar, at or above MINOR a minor
HTML_LANG = {"pt": "pt-PT", "en": "en"}
# characters XML 1.0 cannot carry; a catalogue name could hold one through a YAML escape
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

ET.register_namespace("", ATOM)


def level(availability: float | None) -> str:
    """The bar of a day: full, minor, major or none (no data)."""
    if availability is None:
        return "none"
    return "full" if availability >= FULL else "minor" if availability >= MINOR else "major"


class Texts:
    """A language's texts and formats, in the agent's time zone."""

    def __init__(self, lang: str, timezone: str) -> None:
        self.lang, self.timezone = lang, timezone
        self.fmt = Formatter.of(lang, timezone)

    def __call__(self, key: str, **values: object) -> str:
        return STATUS.text(self.lang, key, **values)


class Renderer:
    def __init__(self, timezone: str) -> None:
        env = Environment(
            loader=FileSystemLoader(Path(__file__).parent / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["level"] = level
        self.template = env.get_template("status.html.j2")
        self.timezone = timezone

    def html(self, view: PublicView, lang: str, title: str, refresh: float) -> bytes:
        t = Texts(lang, self.timezone)
        context: dict[str, Any] = {
            "v": view, "t": t, "fmt": t.fmt, "lang": lang, "html_lang": HTML_LANG[lang],
            "title": title or t("title"), "refresh": round(refresh), "days": DAYS,
            "icons": ICONS, "overall": overall_state(view), "page": PAGE, "feed": FEED,
            "levels": ("full", "minor", "major", "none"),
        }  # fmt: skip
        return self.template.render(context).encode("utf-8")

    def atom(self, view: PublicView, lang: str, title: str, base: str) -> bytes:
        return atom_feed(view, Texts(lang, self.timezone), title, base)


def overall_state(view: PublicView) -> str:
    """The worst state shown, by what a reader should know first."""
    states = {s.state for s in view.services}
    for state in ("down", "degraded", "maintenance", "unknown"):
        if state in states:
            return state
    return "up"


def atom_feed(view: PublicView, t: Texts, title: str, base: str) -> bytes:
    """The incidents of the days shown, newest first. `base` names the feed in the ids (hashed:
    an id never shows a host); links are relative to the feed's own address."""
    name = _xml(title or t("title"))
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: HTML_LANG[t.lang]})
    _add(feed, "id", _urn(base, FEED))
    _add(feed, "title", f"{name} — {t('feed_title')}")
    newest = max((i.updated for i in view.incidents), default=view.generated_at)
    _add(feed, "updated", _iso(newest))
    _add(_add(feed, "author"), "name", name)
    _link(feed, "self", f"{FEED}?lang={t.lang}", "application/atom+xml")
    _link(feed, "alternate", f"{PAGE}?lang={t.lang}", "text/html")
    for incident in view.incidents:
        _entry(feed, incident, t, base)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _entry(feed: ET.Element, incident: PublicIncident, t: Texts, base: str) -> None:
    entry = _add(feed, "entry")
    state = t("incident_open") if incident.ended_at is None else t("incident_resolved")
    _add(entry, "id", _urn(base, f"{PAGE}/incidents/{incident.key}"))
    _add(entry, "title", f"{_xml(incident.service)}: {state}")
    _add(entry, "published", _iso(incident.started_at))
    _add(entry, "updated", _iso(incident.updated))
    _link(entry, "alternate", f"{PAGE}?lang={t.lang}#incident-{incident.key}", "text/html")
    lines = [t("feed_started", at=t.fmt.when(incident.started_at))]
    ended = incident.ended_at
    lines.append(t("feed_open") if ended is None else t("feed_ended", at=t.fmt.when(ended)))
    lines += [f"{t.fmt.when(u.at)} — {_xml(u.text)}" for u in reversed(incident.updates)]
    content = _add(entry, "content", "\n".join(lines))
    content.set("type", "text")


def _add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    if text is not None:
        child.text = text
    return child


def _link(parent: ET.Element, rel: str, href: str, media: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", {"rel": rel, "href": href, "type": media})


def _urn(base: str, path: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, base + path)}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
