"""Alerting end to end: vigia run -> outbox -> a real Alertmanager, with CCO and SOC routes.

A broken service must reach Alertmanager on the CCO route with the right labels and resolve; a
certificate swap on a TLS service must raise a SOC alert; with Alertmanager stopped for a while
every notification still arrives once it is back.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.alerting.servers import ALERTMANAGER, Alertmanager
from tests.e2e.estate import ScriptedEstate
from tests.e2e.test_agent_e2e import AgentProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        ALERTMANAGER is None,
        reason="Alertmanager not installed (Debian prometheus-alertmanager; CI installs it)",
    ),
]


class SwappableTlsServer:
    """A TLS listener on loopback whose certificate the test can swap."""

    def __init__(self, ca: trustme.CA, host: str) -> None:
        self.ca, self.host = ca, host
        self.context = self._context()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(self.host).configure_cert(context)
        return context

    def swap(self) -> None:
        self.context = self._context()  # a new key and certificate from the same CA

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def _wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    am = Alertmanager(tmp_path / "am")
    (tmp_path / "am").mkdir()
    am.start()
    yield am
    am.stop()


def _active(am: Alertmanager, alertname: str, service: str) -> list[dict[str, Any]]:
    try:
        alerts = am.alerts()
    except Exception:
        return []
    return [
        a
        for a in alerts
        if a["labels"].get("alertname") == alertname and a["labels"].get("service") == service
    ]


def test_alerts_reach_alertmanager_on_their_routes_and_survive_its_outage(
    alertmanager: Alertmanager, tmp_path: Path
) -> None:
    estate = ScriptedEstate(refusing=[])
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tls = SwappableTlsServer(ca, "vigia.test")
    catalog = tmp_path / "services.yaml"
    catalog.write_text(
        "version: 1\n"
        "defaults: {interval: 1s, timeout: 800ms, confirm_down: 2, confirm_up: 2}\n"
        "services:\n"
        + "".join(
            f"  - {{id: {sid}, name: {sid}, macro_service: comunicacoes, tier: platina,"
            f" pcn: true, checks: [{{http: {{url: '{estate.url(sid)}'}}}}]}}\n"
            for sid in ("web", "api")
        )
        + "  - {id: portal, name: Portal, macro_service: comunicacoes, tier: ouro, checks: "
        f"[{{tls: {{host: 127.0.0.1, port: {tls.port}, server_name: vigia.test, "
        f"ca_bundle: '{ca_file}'}}}}]}}\n"
    )
    config = tmp_path / "vigia.yaml"
    config.write_text(
        "alerting:\n"
        f"  receivers: [{{name: am, type: alertmanager, urls: ['{alertmanager.url}']}}]\n"
        "  routes: [{team: '*', receivers: [am]}]\n"
    )
    agent = AgentProcess(catalog, tmp_path / "vigia.db", config)
    agent.start()
    started = time.monotonic()
    try:
        time.sleep(3)
        estate.set("web", "503")
        [alert] = _wait_for(lambda: _active(alertmanager, "ServiceDown", "web"), 20, "ServiceDown")
        assert {k: alert["labels"][k] for k in ("team", "tier", "severity", "macro_service")} == {
            "team": "cco", "tier": "platina", "severity": "critical",
            "macro_service": "comunicacoes",
        }  # fmt: skip
        assert [r["name"] for r in alert["receivers"]] == ["cco"]
        assert alert["annotations"]["summary"] == "web indisponível"

        tls.swap()
        [soc] = _wait_for(
            lambda: _active(alertmanager, "CertificateChanged", "portal"), 20, "CertificateChanged"
        )
        assert soc["labels"]["team"] == "soc" and [r["name"] for r in soc["receivers"]] == ["soc"]

        estate.set("web", "ok")
        _wait_for(lambda: not _active(alertmanager, "ServiceDown", "web"), 30, "web resolved")

        alertmanager.stop()
        estate.set("api", "503")
        time.sleep(6)  # the alert fires and waits in the outbox while Alertmanager is down
        waiting = {a["alert_id"]: a for a in agent.json("alerts")}["ServiceDown/api"]
        assert waiting["state"] == "firing"
        assert waiting["deliveries"] and all(d["state"] == "pending" for d in waiting["deliveries"])
        alertmanager.start()
        [late] = _wait_for(lambda: _active(alertmanager, "ServiceDown", "api"), 40, "late alert")
        assert late["labels"]["team"] == "cco"
        alerts = {a["alert_id"]: a for a in agent.json("alerts")}
        assert alerts["ServiceDown/api"]["state"] == "firing"
        assert any(d["state"] == "delivered" for d in alerts["ServiceDown/api"]["deliveries"])
        _assert_no_duplicates_beyond_resends(tmp_path / "vigia.db", "ServiceDown/web", started)
    finally:
        agent.stop()
        estate.close()
        tls.close()


def _assert_no_duplicates_beyond_resends(db: Path, alert_id: str, started: float) -> None:
    """One firing and one resolved notification, plus at most one of each per resend cycle
    (60 s, the first at the agent's first alerting tick), each delivered exactly once."""
    from agent.store.sql import SqlStore
    from agent.store.url import database_url
    from alerting.outbox import Outbox

    store = SqlStore.open(database_url(str(db)))
    try:
        history = Outbox(store).history(alert_id)
    finally:
        store.close()
    cycles = 1 + int((time.monotonic() - started) // 60) + 1
    for status in ("firing", "resolved"):
        rows = [i for i in history if i.notification.status.value == status]
        assert 1 <= len(rows) <= cycles, (status, len(rows), cycles)
        assert all(i.state.value == "delivered" for i in rows)
