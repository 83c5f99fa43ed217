"""The public status page and its Atom feed against a real agent: off by default, only
public services and public messages shown, never an internal field, cached with ETag/304."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from agent.records import Incident
from agent.settings import StatusPageSettings
from agent.status import render
from agent.status.page import StatusPages
from checks.result import Outcome, ProbeResult
from tests.api.conftest import Running
from tests.status.conftest import CAUSE, HIDDEN, INTERNAL, PORTAL

ATOM = "{http://www.w3.org/2005/Atom}"
PUBLIC_TEXT = "Estamos a repor o acesso ao portal. Próxima atualização às 10h."


async def _outage(running: Running, check: str, cause: str = CAUSE) -> Incident:
    start = datetime.now(UTC) - timedelta(minutes=20)
    for offset in (0, 30):
        at = start + timedelta(seconds=offset)
        running.agent.observe(ProbeResult(check, at, 0.1, Outcome.FAIL, cause), "heartbeat")
    await running.agent.writer.drain()
    return running.store.incidents(service=check.split("/")[0])[-1]


async def _internal_everywhere(running: Running) -> Incident:
    """An open outage with an internal cause, a note, a planned window with an internal reason,
    an outage of a service that is not public, and one public message."""
    incident = await _outage(running, PORTAL)
    await _outage(running, HIDDEN, "SIP-42 batch-noturno failed on pagamentos-db")
    operator = running.auth("operator")
    note = {"field": "cause", "text": "nota-interna-do-cco: db-prod-17 sem disco"}
    url = f"/api/v1/incidents/{incident.id}/annotations"
    assert (await running.client.post(url, json=note, headers=operator)).status_code == 201
    start = datetime.now(UTC) + timedelta(days=2)
    window = {
        "service": "portal-xpto-interno", "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(), "reason": "janela-secreta-de-upgrade",
    }  # fmt: skip
    response = await running.client.post("/api/v1/maintenance", json=window, headers=operator)
    assert response.status_code == 201
    said = {"incident": incident.id, "text": PUBLIC_TEXT}
    response = await running.client.post("/api/v1/public-messages", json=said, headers=operator)
    assert response.status_code == 201
    return incident


def _no_internal(text: str) -> None:
    leaked = [word for word in INTERNAL if word.lower() in text.lower()]
    assert leaked == [], f"internal fields on the public page: {leaked}"


def _parse_feed(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert (root.findtext(f"{ATOM}{required}") or "").strip(), required
    return root


def _entries(root: ET.Element) -> list[dict[str, Any]]:
    entries = []
    for entry in root.findall(f"{ATOM}entry"):
        fields = {tag: entry.findtext(f"{ATOM}{tag}") for tag in ("id", "title", "updated")}
        assert all(fields.values()), fields
        datetime.fromisoformat(str(fields["updated"]).replace("Z", "+00:00"))
        content = entry.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "text"
        entries.append({**fields, "content": content.text or ""})
    return entries


@pytest.fixture
def more_settings() -> dict[str, Any]:
    return {}  # this module's default: the page off, as in a fresh install


async def test_the_page_and_feed_are_off_by_default(running: Running) -> None:
    assert running.agent.settings.status_page.enabled is False
    for path in ("/status", "/status/feed.atom", "/status?lang=en"):
        response = await running.client.get(path)
        assert response.status_code == 404, path


@pytest.mark.parametrize(
    "more_settings", [{"status_page": {"enabled": True, "title": "Estado — Exemplo"}}]
)
class TestOn:
    async def test_nothing_internal_reaches_the_page(self, running: Running) -> None:
        incident = await _internal_everywhere(running)
        response = await running.client.get("/status")  # no token, no cookie: anonymous
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        _no_internal(html)
        assert '<html lang="pt-PT">' in html and "<script" not in html
        assert "Estado — Exemplo" in html
        assert "Portal da Segurança Social" in html and "Autenticação" in html
        assert "Indisponível" in html and "Há serviços indisponíveis." in html
        assert PUBLIC_TEXT in html and f'id="incident-{incident.id}"' in html
        assert "Manutenção planeada" in html and "Nenhuma manutenção anunciada." not in html
        assert html.count('<li class="service"') == 2  # the service that is not public: absent
        assert html.count('<li class="l-') == 2 * 90  # 90 daily bars each
        assert html.count("<tr><td><time") == 2 * 90  # and their values as text

    async def test_nothing_internal_reaches_the_feed(self, running: Running) -> None:
        incident = await _internal_everywhere(running)
        response = await running.client.get("/status/feed.atom")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        _no_internal(response.text)
        root = _parse_feed(response.content)
        [entry] = _entries(root)  # the outage of the service that is not public: absent
        assert entry["title"] == "Portal da Segurança Social: Indisponível"
        assert PUBLIC_TEXT in entry["content"] and entry["id"].startswith("urn:uuid:")
        assert root.findtext(f"{ATOM}author/{ATOM}name") == "Estado — Exemplo"
        assert str(incident.id) not in entry["id"]

    async def test_english_on_request_and_bad_languages_refused(self, running: Running) -> None:
        await _outage(running, PORTAL)
        page = await running.client.get("/status", params={"lang": "en"})
        assert '<html lang="en">' in page.text and "Unavailable" in page.text
        assert "Some services are unavailable." in page.text
        feed = _parse_feed((await running.client.get("/status/feed.atom?lang=en")).content)
        assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
        assert _entries(feed)[0]["title"].endswith(": Unavailable")
        bad = await running.client.get("/status", params={"lang": "fr"})
        assert bad.status_code == 400 and "pt, en" in bad.text

    async def test_all_up_and_a_resolved_incident(self, running: Running) -> None:
        now = datetime.now(UTC)
        for check in (PORTAL, "autenticacao-cluster-b/sonda-escondida"):
            running.agent.observe(ProbeResult(check, now, 0.1, Outcome.OK), "heartbeat")
        await running.agent.writer.drain()
        html = (await running.client.get("/status")).text
        assert "Todos os serviços estão operacionais." in html
        assert html.count("Operacional") == 2 and "Nenhum incidente em curso." in html

    async def test_cached_with_etag_and_304(self, running: Running) -> None:
        first = await running.client.get("/status")
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=15"
        again = await running.client.get("/status", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        weak = await running.client.get("/status", headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status_code == 304
        other = await running.client.get("/status", headers={"If-None-Match": '"other"'})
        assert other.status_code == 200 and other.content == first.content
        head = await running.client.head("/status")
        assert head.status_code == 200 and head.content == b""
        assert (await running.client.post("/status")).status_code == 405

    async def test_gzip_when_accepted_and_plain_otherwise(self, running: Running) -> None:
        zipped = await running.client.get("/status", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert int(zipped.headers["content-length"]) * 3 < len(zipped.content)  # decoded by httpx
        for refused in ("identity", "gzip;q=0, identity", ""):
            plain = await running.client.get("/status", headers={"Accept-Encoding": refused})
            assert "content-encoding" not in plain.headers, refused
            assert (
                plain.content == zipped.content and plain.headers["etag"] != zipped.headers["etag"]
            )
        cross = {"Accept-Encoding": "identity", "If-None-Match": zipped.headers["etag"]}
        assert (await running.client.get("/status", headers=cross)).status_code == 200

    async def test_a_crowd_builds_the_view_once_per_refresh(self, running: Running) -> None:
        clock = [1000.0]
        pages = StatusPages(running.agent, monotonic=lambda: clock[0])
        await asyncio.gather(*(pages.get("html", "pt") for _ in range(50)))
        await asyncio.gather(
            *(pages.get(k, lang) for k in ("html", "atom") for lang in ["pt", "en"])
        )
        assert pages.builds == 1
        clock[0] += 14.9
        await pages.get("html", "pt")
        assert pages.builds == 1
        clock[0] += 0.1
        await _outage(running, PORTAL)
        fresh = await pages.get("html", "pt")
        assert pages.builds == 2 and b"Indispon\xc3\xadvel" in fresh.body

    async def test_maintenance_under_way_is_a_state_of_its_own(self, running: Running) -> None:
        start = datetime.now(UTC) + timedelta(seconds=0.5)
        window = {
            "service": "autenticacao-cluster-b", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "reason": "janela-secreta-de-upgrade",
        }  # fmt: skip
        headers = running.auth("operator")
        assert (
            await running.client.post("/api/v1/maintenance", json=window, headers=headers)
        ).status_code == 201
        await asyncio.sleep(0.6)
        await running.agent._refresh_windows()  # the agent's 30 s refresh, now
        html = (await running.client.get("/status")).text
        assert 'data-state="maintenance"' in html and "Em manutenção" in html
        assert "<strong>Autenticação</strong>: De" in html
        _no_internal(html)

    async def test_the_day_of_an_outage_has_a_failing_bar(self, running: Running) -> None:
        await _outage(running, PORTAL)
        html = (await running.client.get("/status")).text
        portal = html[html.index('id="service-1"') : html.index('id="service-2"')]
        bars = re.findall(r'<li class="l-(\w+)"', portal)
        # 20 minutes ago may be yesterday just after midnight: today or yesterday fails
        assert len(bars) == 90 and "major" in bars[-2:] and set(bars[:-2]) == {"none"}
        assert "0,00 %" in portal  # down for all of the time known today

    async def test_turned_off_on_reload_gives_404(self, running: Running) -> None:
        assert (await running.client.get("/status")).status_code == 200
        agent = running.agent
        off = agent.settings.model_copy(update={"status_page": StatusPageSettings()})
        agent.reread_settings = lambda: off  # the re-read vigia.yaml of a SIGHUP
        assert (await agent.reload()).ok
        assert (await running.client.get("/status")).status_code == 404


async def test_a_foreign_host_is_still_refused(running: Running) -> None:
    """The page sits inside the HTTP guard: its Host check applies."""
    on = StatusPageSettings(enabled=True)
    running.agent.settings = running.agent.settings.model_copy(update={"status_page": on})
    transport = running.client._transport  # the same app under another Host
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as client:
        assert (await client.get("/status")).status_code == 400


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_colours_meet_wcag_contrast() -> None:
    """State texts on their backgrounds: 4.5:1 (WCAG AA text); bars on white: 3:1 (non-text);
    the bars also differ by height, and every state is written out with its icon."""
    css = (Path(render.__file__).parent / "templates" / "status.html.j2").read_text()
    states = re.findall(r"\.s-(\w+) \{ color: (#\w{6}); background: (#\w{6});", css)
    assert {name for name, _, _ in states} == {"up", "degraded", "down", "maintenance", "unknown"}
    for name, text, background in states:
        assert _contrast(text, background) >= 4.5, name
    bars = re.findall(r"\.l-(\w+) \{ background: (#\w{6}); height: (\d+)%", css)
    assert len({height for _, _, height in bars}) == 4
    for name, colour, _ in bars:
        assert _contrast(colour, "#ffffff") >= 3, name
    texts = re.findall(r"(?:\.muted|^a) \{ color: (#\w{6})", css, re.M)
    assert len(texts) == 2 and all(_contrast(c, "#ffffff") >= 4.5 for c in texts)


def test_the_feed_keeps_every_open_incident_and_the_newest_closed_ones() -> None:
    from agent.status.view import FEED_ENTRIES, _shown

    start = datetime(2026, 11, 1, tzinfo=UTC)
    old_open = Incident(1, "a", "ouro", False, start, start)
    closed = [
        Incident(n, "a", "ouro", False, start + timedelta(hours=n), start + timedelta(hours=n),
                 ended_at=start + timedelta(hours=n, minutes=5))
        for n in range(2, 2 + FEED_ENTRIES + 10)
    ]  # fmt: skip
    shown = _shown([old_open, *closed])
    assert len(shown) == FEED_ENTRIES + 1 and shown[-1] is old_open
    assert [i.id for i in shown[:-1]] == [c.id for c in closed[::-1][:FEED_ENTRIES]]
