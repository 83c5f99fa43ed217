"""Acceptance: a real Prometheus scrapes a running `vigia run` watching loopback services.

Every PromQL expression of the Grafana dashboards must return data from it, `promtool check
metrics` must find nothing in a live scrape, and the figures must agree with `vigia status`
and `vigia indicators` for the same instant.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.estate import ScriptedEstate
from tests.e2e.test_agent_e2e import AgentProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus") is None or shutil.which("promtool") is None,
        reason="needs Prometheus and promtool on PATH (Debian package `prometheus`)",
    ),
]

DASHBOARDS = Path(__file__).parents[2] / "grafana" / "dashboards"
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}
WAIT = 90.0  # the availability part is computed every 30 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- loopback services ----------------------------------------------------------------------


class _Handshake(socketserver.BaseRequestHandler):
    server: _TlsServer

    def handle(self) -> None:
        try:
            with self.server.context.wrap_socket(self.request, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass


class _TlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handshake)
        self.context = context


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, datetime]]:
    """A TLS endpoint with a certificate from a throwaway CA: (port, CA bundle, not_after)."""
    ca = trustme.CA()
    not_after = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    leaf = ca.issue_cert("127.0.0.1", not_after=not_after)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    bundle = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = _TlsServer(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(bundle), not_after
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def estate() -> Iterator[ScriptedEstate]:
    scripted = ScriptedEstate(refusing=[])
    yield scripted
    scripted.close()


def _catalog(estate: ScriptedEstate, tls_port: int, bundle: str) -> str:
    def service(sid: str, tier: str, macro: str, pcn: bool, check: str) -> list[str]:
        return [
            f"  - id: {sid}",
            f"    name: Service {sid}",
            f"    macro_service: {macro}",
            f"    tier: {tier}",
            f"    pcn: {str(pcn).lower()}",
            f"    checks: [{check}]",
        ]

    def http(sid: str) -> str:
        return f"{{http: {{url: '{estate.url(sid)}'}}}}"

    return "\n".join(
        [
            "version: 1",
            "defaults: {interval: 1s, timeout: 800ms, confirm_down: 2, confirm_up: 2}",
            "services:",
            *service("portal", "platina", "desenvolvimento-aplicacoes", True, http("portal")),
            *service("blip", "platina", "desenvolvimento-aplicacoes", True, http("blip")),
            *service("broken", "ouro", "comunicacoes", False, http("broken")),
            *service(
                "cert",
                "prata",
                "comunicacoes",
                False,
                f"{{tls: {{host: 127.0.0.1, port: {tls_port}, ca_bundle: '{bundle}'}}}}",
            ),
            "  - id: legacy",
            "    name: Legacy",
            "    macro_service: formacao",
            "    tier: bronze",
            "    monitored: false",
            "",
        ]
    )


# ---- Prometheus -------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, directory: Path, target_port: int) -> None:
        self.port = _free_port()
        config = directory / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: vigia\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        self.log = directory / "prometheus.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=log,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"Prometheus did not start: {self.log.read_text()[-2000:]}")

    def query(self, expr: str) -> dict[str, Any]:
        reply = httpx.get(
            f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": expr}, timeout=10
        )
        body: dict[str, Any] = reply.json()
        assert body["status"] == "success", (expr, body)
        return body

    def has_data(self, expr: str) -> bool:
        data = self.query(expr)["data"]
        return bool(data["result"]) if data["resultType"] in ("vector", "matrix") else True

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def running(
    estate: ScriptedEstate,
    tls_server: tuple[int, str, datetime],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[AgentProcess, Prometheus]]:
    """One agent and one Prometheus for the module's tests (they only read)."""
    port, bundle, _ = tls_server
    tmp_path = tmp_path_factory.mktemp("vigia")
    catalog = tmp_path / "services.yaml"
    catalog.write_text(_catalog(estate, port, bundle))
    estate.set("broken", "503")
    estate.set("blip", "503")
    agent = AgentProcess(catalog, tmp_path / "vigia.db")
    agent.start()
    prometheus = Prometheus(tmp_path, agent.port)
    try:
        time.sleep(4)  # blip: hard DOWN after two failures, then restored
        estate.set("blip", "ok")
        _wait(lambda: prometheus.has_data('vigia_quar_indicator{indicator="ind4"}'), WAIT)
        yield agent, prometheus
    finally:
        prometheus.stop()
        if agent.proc is not None:
            agent.stop()


def _wait(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {seconds} s: {condition}")
        time.sleep(1)


# ---- dashboard expressions ----------------------------------------------------------------------


def dashboard_expressions() -> list[tuple[str, str]]:
    """(dashboard file, PromQL) for every panel target and variable query."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, file: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append((file, node["expr"]))
            for value in node.values():
                walk(value, file)
        elif isinstance(node, list):
            for value in node:
                walk(value, file)

    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        walk(board.get("panels", []), path.name)
        for variable in board["templating"]["list"]:
            query = variable["query"]["query"]
            selector = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            assert selector, f"{path.name}: variable {variable['name']}: {query!r}"
            found.append((path.name, selector[1]))
    return found


def concrete(expr: str) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    expr = re.sub(r"\$\w+", ".*", expr)  # every variable is used in a regex matcher (=~)
    assert "$" not in expr, expr
    return expr


def test_dashboards_have_panels_and_use_only_vigia_metrics() -> None:
    expressions = dashboard_expressions()
    assert {f for f, _ in expressions} == {
        "vigia-agent.json",
        "vigia-overview.json",
        "vigia-service.json",
    }
    for file, expr in expressions:
        names = set(
            re.findall(r"\b([a-z_]+(?:_total|_seconds|_ratio|_bucket|_sum|_count)?)\{", expr)
        )
        names |= set(re.findall(r"\b((?:vigia|process)_[a-z_]+)", expr))
        assert names, (file, expr)
        assert all(n.startswith(("vigia_", "process_")) for n in names), (file, expr)


def test_every_dashboard_query_returns_data_from_a_real_prometheus(
    running: tuple[AgentProcess, Prometheus],
) -> None:
    _, prometheus = running
    empty: list[tuple[str, str]] = []
    for file, expr in dashboard_expressions():
        query = concrete(expr)
        deadline = time.monotonic() + 15
        while not prometheus.has_data(query) and time.monotonic() < deadline:
            time.sleep(1)
        if not prometheus.has_data(query):
            empty.append((file, query))
    assert not empty, f"queries without data: {empty}"


def test_promtool_finds_nothing_in_a_live_scrape(
    running: tuple[AgentProcess, Prometheus],
) -> None:
    agent, _ = running
    scrape = httpx.get(f"http://127.0.0.1:{agent.port}/metrics", timeout=10).text
    assert "vigia_service_up{" in scrape
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == ""
    assert not re.search(r'\b(job|instance)="', scrape)


# ---- agreement with the CLI ---------------------------------------------------------------------


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _by_service(samples: list[tuple[dict[str, str], float]], **match: str) -> dict[str, float]:
    return {
        labels["service"]: value
        for labels, value in samples
        if all(labels.get(k) == v for k, v in match.items())
    }


def test_metrics_agree_with_vigia_status_and_vigia_indicators(
    running: tuple[AgentProcess, Prometheus], tls_server: tuple[int, str, datetime]
) -> None:
    agent, _ = running
    scrape = _samples(httpx.get(f"http://127.0.0.1:{agent.port}/metrics", timeout=10).text)
    status = {row["service"]: row for row in agent.json("status")}

    states = _by_service(scrape["vigia_service_state"])
    assert set(states) == {s for s, row in status.items() if row["monitored"]}
    for labels, value in scrape["vigia_service_state"]:
        row = status[labels["service"]]
        assert value == (1.0 if labels["state"] == row["state"] else 0.0), (labels, row)
    assert status["broken"]["state"] == "down" and status["portal"]["state"] == "up"

    opened = _by_service(scrape["vigia_incident_open_start_timestamp_seconds"])
    expected = {
        s: datetime.fromisoformat(row["incident"]["started_at"]).timestamp()
        for s, row in status.items()
        if row["incident"]
    }
    assert opened == pytest.approx(expected) and set(opened) == {"broken"}
    catalog = {labels["monitored"]: v for labels, v in scrape["vigia_catalog_services"]}
    assert catalog == {"true": 4.0, "false": 1.0}

    _, _, not_after = tls_server
    expiry = _by_service(scrape["vigia_tls_cert_expiry_timestamp_seconds"])
    assert expiry == {"cert": not_after.timestamp()}

    # the availability figures are as of the instant of their last computation
    as_of = {lb["part"]: v for lb, v in scrape["vigia_metrics_refresh_timestamp_seconds"]}
    moment = datetime.fromtimestamp(as_of["availability"], UTC)
    local = moment.astimezone(ZoneInfo("Europe/Lisbon"))
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    figures = agent.json(
        "indicators", "--from", month_start.isoformat(), "--to", moment.isoformat()
    )
    ratios = scrape["vigia_service_availability_ratio"]
    month = _by_service(ratios, window="month")
    cli = {s["id"]: s["availability"] for s in figures["services"] if s["monitored"]}
    assert month == pytest.approx({s: v / 100 for s, v in cli.items() if v is not None})
    assert month["portal"] == 1.0 and month["broken"] == 0.0 and 0 < month["blip"] < 1

    quar = {lb["indicator"]: v for lb, v in scrape["vigia_quar_indicator"]}
    assert quar["ind3"] == pytest.approx(figures["ind3"]["value"] / 100)
    assert quar["coverage"] == pytest.approx(figures["coverage"]["value"] / 100)
    assert quar["ind4"] == pytest.approx(figures["ind4"]["value"] * 60)
    tr = {lb["indicator"]: v for lb, v in scrape["vigia_quar_taxa_realizacao_ratio"]}
    assert tr["ind3"] == pytest.approx(figures["ind3"]["tr"] / 100)
    assert tr["ind4"] == pytest.approx(figures["ind4"]["tr"] / 100)
    assert tr[figures["op3"]["name"].lower()] == pytest.approx(figures["op3"]["tr"] / 100)

    day = agent.json(
        "indicators", "--from", (moment - timedelta(days=1)).isoformat(), "--to", moment.isoformat()
    )
    one_day = _by_service(ratios, window="1d")
    cli_day = {
        s["id"]: s["availability"] / 100 for s in day["services"] if s["availability"] is not None
    }
    assert one_day == pytest.approx(cli_day)
