"""Each shipped rule fires on what it is meant for, and only that (reasons as the probes word
them), through the evaluator with an injected clock."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agent.catalog.model import Catalog
from alerting.evaluator import AlertEvaluator
from checks.result import Measurement, ProbeResult
from checks.runner import run_probe
from checks.specs import DnsSpec, HttpSpec, KindSpec, TlsSpec
from tests.alerting.test_evaluator import Harness, with_tiers
from tests.checks.loopback import HttpServer, Pki, Reply, probe_context
from tests.engine.builders import catalog, check, service


def _kind(kind: str, spec: KindSpec) -> Catalog:
    base = check("svc", kind)
    return with_tiers(catalog(service("svc", replace(base, kind=kind, spec=spec))))


TLS = _kind("tls", TlsSpec(host="svc.example"))
DNS = _kind("dns", DnsSpec(name="www.example.pt"))
HTTP = _kind("http", HttpSpec(url="https://svc.example/"))
STATIC = _kind("http", HttpSpec(url="https://svc.example/", static=True))

REASONS = [
    ("tls", TLS, "certificate verification failed: certificate has expired", "CertificateInvalid"),
    (
        "tls",
        TLS,
        "certificate verification failed: Hostname mismatch, certificate is not valid for 'x'",
        "CertificateInvalid",
    ),
    (
        "tls",
        TLS,
        "certificate expired 3 days ago (not after 2024-03-01T00:00:00+00:00)",
        "CertificateInvalid",
    ),
    (
        "tls",
        TLS,
        "certificate fingerprint aaaa… does not match the pin bbbb…",
        "CertificatePinMismatch",
    ),
    ("tls", TLS, "negotiated TLSv1.2, policy requires TLSv1.3 or newer", "TlsVersionBelowPolicy"),
    ("http", HTTP, "body does not contain 'Segurança Social'", "PageContentLost"),
]


@pytest.mark.parametrize(("name", "cat", "reason", "expected"), REASONS)
def test_security_failures_raise_exactly_their_soc_alert(
    name: str, cat: Catalog, reason: str, expected: str
) -> None:
    h = Harness(cat)
    h.feed(f"svc/{name}", "f", reason=reason)
    soc = {n.labels["alertname"] for n in h.sent if n.labels["team"] == "soc"}
    assert soc == {expected}


def test_a_refused_connection_is_not_a_security_alert() -> None:
    h = Harness(TLS)
    h.feed("svc/tls", "f", reason="connection refused")
    assert not [n for n in h.sent if n.labels["team"] == "soc"]


@pytest.mark.parametrize(
    ("cat", "check_id", "field", "before", "after", "alertname"),
    [
        (TLS, "svc/tls", "issuer", "CN=Old CA", "CN=Evil CA", "CertificateIssuerChanged"),
        (DNS, "svc/dns", "answers", ["192.0.2.1"], ["198.51.100.7"], "DnsAnswersChanged"),
        (STATIC, "svc/http", "body_sha256", "a" * 64, "b" * 64, "StaticPageChanged"),
    ],
)
def test_changed_values_raise_soc_alerts(
    cat: Catalog,
    check_id: str,
    field: str,
    before: Measurement,
    after: Measurement,
    alertname: str,
) -> None:
    h = Harness(cat)
    h.feed(check_id, "oo", measured={field: before})
    assert h.named(alertname) == []
    h.feed(check_id, "o", start=120, measured={field: after})
    assert h.named(alertname) == [("firing", "svc")]


def test_a_reordered_dns_answer_set_is_not_a_change() -> None:
    h = Harness(DNS)
    h.feed("svc/dns", "o", answers=["192.0.2.1", "192.0.2.2"])
    h.feed("svc/dns", "o", start=60, answers=["192.0.2.2", "192.0.2.1"])
    assert h.named("DnsAnswersChanged") == []


def test_a_body_change_on_a_page_not_marked_static_is_ignored() -> None:
    h = Harness(HTTP)
    h.feed("svc/http", "o", body_sha256="a" * 64)
    h.feed("svc/http", "o", start=60, body_sha256="b" * 64)
    assert h.named("StaticPageChanged") == []


@pytest.mark.parametrize(
    ("days", "fired"),
    [
        (30, set()),
        (20, {"CertificateExpiringSoon"}),
        (5, {"CertificateExpiringSoon", "CertificateExpiringCritical"}),
    ],
)
def test_certificate_expiry_warns_at_21_days_and_pages_at_7(days: int, fired: set[str]) -> None:
    h = Harness(TLS)
    h.feed("svc/tls", "o", days_left=days)
    assert {n.labels["alertname"] for n in h.sent if "Expiring" in n.labels["alertname"]} == fired


def test_degraded_service_alerts_after_five_minutes() -> None:
    h = Harness(with_tiers(catalog(service("svc"))))
    h.feed("svc/tcp", "d" * 5)  # degraded from t=0, last result at t=240
    h.tick(299)
    assert h.named("ServiceDegraded") == []
    h.tick(300)
    assert h.named("ServiceDegraded") == [("firing", "svc")]


@pytest.mark.parametrize(
    ("signal", "value", "alertname"),
    [
        ("store_write_errors", 2.0, "VigiaStorageErrors"),
        ("delivery_failures", 1.0, "VigiaDeliveryFailed"),
        ("catalog_reload_failed", 1.0, "VigiaCatalogReloadFailed"),
    ],
)
def test_agent_health_signals_raise_their_alert(signal: str, value: float, alertname: str) -> None:
    h = Harness(with_tiers(catalog(service("svc"))))
    evaluator: AlertEvaluator = h.evaluator
    evaluator.signals = lambda: {signal: value}
    h.tick(10)
    assert h.named(alertname) == [("firing", "")]
    evaluator.signals = lambda: {signal: 0.0}
    h.tick(20)
    assert h.named(alertname) == [("firing", ""), ("resolved", "")]


def test_slow_burn_rules_ticket_a_long_outage() -> None:
    h = Harness(with_tiers(catalog(service("svc"))))
    h.feed("svc/tcp", "offf")  # down from t=60
    h.tick(60 + 3 * 3600)  # 3 h down: 1d window 12.5 % (12.5x), 2h window 100 %
    tickets = {n.labels["alertname"] for n in h.sent if n.labels["severity"] == "ticket"}
    assert tickets == {"ErrorBudgetBurnSlow", "ErrorBudgetBurnLow"}


def test_a_service_answering_from_an_unexpected_address_raises_a_soc_alert() -> None:
    cat = _kind("http", HttpSpec(url="https://svc.example/", expect_addresses=["192.0.2.10"]))
    h = Harness(cat)
    h.feed("svc/http", "o", remote_address="192.0.2.10", address_expected=True)
    assert h.named("UnexpectedAddress") == []
    h.feed("svc/http", "o", start=60, remote_address="203.0.113.66", address_expected=False)
    [alert] = [n for n in h.sent if n.labels["alertname"] == "UnexpectedAddress"]
    assert alert.labels["team"] == "soc"
    assert "203.0.113.66" in alert.annotations["summary"]
    assert "192.0.2.10" in alert.annotations["summary"]


def test_an_unhealthy_agent_fires_agent_unhealthy_with_its_reasons_and_stops_the_watchdog() -> None:
    h = Harness(with_tiers(catalog(service("svc"))))
    evaluator: AlertEvaluator = h.evaluator
    h.tick(10)
    assert h.named("Watchdog") == [("firing", "")]
    unhealthy = {"agent_unhealthy": 2.0, "unhealthy:probing_stalled": 1.0}
    evaluator.signals = lambda: unhealthy | {"unhealthy:store_unavailable": 1.0}
    h.tick(20)
    assert h.named("AgentUnhealthy") == [("firing", "")]
    assert h.named("Watchdog") == [("firing", ""), ("resolved", "")]
    fired = next(n for n in h.sent if n.labels["alertname"] == "AgentUnhealthy")
    assert "probing_stalled, store_unavailable" in fired.annotations["summary"]
    evaluator.signals = lambda: {"agent_unhealthy": 0.0}
    h.tick(30)
    assert h.named("AgentUnhealthy") == [("firing", ""), ("resolved", "")]
    assert h.named("Watchdog")[-1] == ("firing", "")


async def _probed(spec: HttpSpec) -> ProbeResult:
    ctx = probe_context()
    try:
        return await run_probe("svc/http", "http", spec, 2.0, ctx)
    finally:
        await ctx.aclose()


async def test_an_https_page_redirecting_to_plain_http_raises_tls_downgrade_on_the_soc_route(
    tmp_path: Path,
) -> None:
    pki = Pki(tmp_path)
    async with HttpServer({"/": lambda _: Reply(200, "ok")}) as plain:
        moved = {"/": lambda _: Reply(302, headers={"Location": plain.url("/")})}
        async with HttpServer(moved, pki.server_context()) as secure:
            spec = HttpSpec(url=secure.url(), ca_bundle=pki.ca_bundle, require_tls=True)
            downgraded = await _probed(spec)
            unasked = await _probed(spec.model_copy(update={"require_tls": None}))
    h = Harness(_kind("http", spec))
    h.sent += h.evaluator.observe(unasked, h.engine.observe(unasked))
    assert h.named("TlsDowngrade") == []  # the same chain, but nobody asked for TLS
    h.clock.set(downgraded.started_at)
    h.sent += h.evaluator.observe(downgraded, h.engine.observe(downgraded))
    [alert] = [n for n in h.sent if n.labels["alertname"] == "TlsDowngrade"]
    assert alert.labels["team"] == "soc" and alert.labels["severity"] == "critical"
    assert plain.url("/") in alert.annotations["summary"]
    soc = {n.labels["alertname"] for n in h.sent if n.labels["team"] == "soc"}
    assert soc == {"TlsDowngrade"}  # not mistaken for defacement (PageContentLost)


def test_only_a_downgrade_reason_raises_tls_downgrade() -> None:
    h = Harness(HTTP)
    h.feed(
        "svc/http",
        "f",
        reason="the chain ends on https (https://svc.example/), require_tls is false",
    )
    h.feed("svc/http", "f", start=60, reason="status 503, expected 2xx")
    assert h.named("TlsDowngrade") == []
