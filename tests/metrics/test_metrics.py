"""AgentMetrics and StoreMetrics on an injected registry: names, labels and values."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.catalog.loader import load_text
from agent.catalog.model import Catalog
from agent.indicators.quar_config import DEFAULT_QUAR
from agent.maintenance import MaintenanceCalendar
from agent.metrics import AgentMetrics
from agent.metrics.exposition import Series, sample_prefix
from agent.metrics.store_derived import StoreMetrics
from agent.records import (
    Incident,
    IncidentSaved,
    ResultRecorded,
    ServiceStatus,
    ServiceStatusSaved,
    State,
    TimelineRewritten,
    Transition,
)
from agent.store.sql import SqlStore
from checks.clock import ManualClock
from checks.result import Outcome, ProbeResult

CATALOG = """\
version: 1
defaults: {interval: 60s, timeout: 10s, confirm_down: 3, confirm_up: 2}
services:
  - id: portal
    name: Portal
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    pcn: true
    checks:
      - http: {url: "http://127.0.0.1:9/"}
      - tls: {host: 127.0.0.1, port: 9}
  - id: mail
    name: Mail
    macro_service: comunicacoes
    tier: ouro
    checks: [{tcp: {host: 127.0.0.1, port: 9}}]
  - id: legacy
    name: Legacy
    macro_service: formacao
    tier: bronze
    monitored: false
"""
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PORTAL = {"service": "portal", "tier": "platina", "macro_service": "desenvolvimento-aplicacoes"}
HTTP = {"service": "portal", "check": "portal/http", "kind": "http"}


@pytest.fixture
def catalog() -> Catalog:
    return load_text(CATALOG)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> AgentMetrics:
    return AgentMetrics(registry)


def result(check: str, outcome: Outcome, duration: float = 0.2, **measured: object) -> ProbeResult:
    return ProbeResult(check, NOW, duration, outcome, measurements=dict(measured))  # type: ignore[arg-type]


def status(service: str, state: State, *, flapping: bool = False) -> ServiceStatus:
    return ServiceStatus(service, state, NOW, NOW, flapping=flapping)


def samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_results_are_counted_by_outcome_and_the_last_known_one_sets_success(
    metrics: AgentMetrics, registry: CollectorRegistry
) -> None:
    for outcome in (Outcome.OK, Outcome.FAIL, Outcome.FAIL, Outcome.UNKNOWN):
        metrics.observe(result("portal/http", outcome), "http")
    count = {
        o: registry.get_sample_value("vigia_check_results_total", {**HTTP, "result": o})
        for o in ("ok", "fail", "unknown", "degraded")
    }
    assert count == {"ok": 1, "fail": 2, "unknown": 1, "degraded": 0}
    # unknown neither confirms nor breaks: success stays at the last fail
    assert registry.get_sample_value("vigia_check_success", HTTP) == 0
    metrics.observe(result("portal/http", Outcome.DEGRADED), "http")
    assert registry.get_sample_value("vigia_check_success", HTTP) == 1


def test_http_phases_feed_the_kind_histogram_and_the_checks_last_duration(
    metrics: AgentMetrics, registry: CollectorRegistry
) -> None:
    phases = {"phase_connect": 0.01, "phase_tls": 0.02, "phase_processing": 0.1}
    metrics.observe(result("portal/http", Outcome.OK, 0.2, **phases, phase_transfer=0.03), "http")
    for phase, seconds in (("connect", 0.01), ("tls", 0.02), ("processing", 0.1), ("total", 0.2)):
        labels = {"kind": "http", "phase": phase}
        assert registry.get_sample_value("vigia_check_duration_seconds_count", labels) == 1
        assert registry.get_sample_value("vigia_check_duration_seconds_sum", labels) == seconds
        last = registry.get_sample_value(
            "vigia_check_last_duration_seconds", {**HTTP, "phase": phase}
        )
        assert last == seconds


def test_tls_not_after_becomes_the_certificate_expiry_timestamp(
    metrics: AgentMetrics, registry: CollectorRegistry
) -> None:
    metrics.observe(
        result("portal/tls", Outcome.OK, not_after="2027-01-31T23:59:59Z", handshake_time=0.004),
        "tls",
    )
    labels = {"service": "portal", "check": "portal/tls", "kind": "tls"}
    expiry = registry.get_sample_value("vigia_tls_cert_expiry_timestamp_seconds", labels)
    assert expiry == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    tls_phase = {"kind": "tls", "phase": "tls"}
    assert registry.get_sample_value("vigia_check_duration_seconds_count", tls_phase) == 1


def test_service_state_is_a_stateset_and_up_disappears_while_unknown(
    metrics: AgentMetrics, registry: CollectorRegistry, catalog: Catalog
) -> None:
    labels = {**PORTAL, "pcn": "true"}
    metrics.set_service(catalog, status("portal", State.DOWN, flapping=True))
    states = {
        s: registry.get_sample_value("vigia_service_state", {**labels, "state": s})
        for s in ("up", "degraded", "down", "unknown")
    }
    assert states == {"up": 0, "degraded": 0, "down": 1, "unknown": 0}
    assert registry.get_sample_value("vigia_service_up", labels) == 0
    assert registry.get_sample_value("vigia_service_flapping", labels) == 1
    metrics.set_service(catalog, status("portal", State.DEGRADED))
    assert registry.get_sample_value("vigia_service_up", labels) == 1
    metrics.set_service(catalog, status("portal", State.UNKNOWN))
    assert registry.get_sample_value("vigia_service_up", labels) is None
    assert registry.get_sample_value("vigia_service_state", {**labels, "state": "unknown"}) == 1


def test_a_service_without_results_past_its_silence_threshold_is_exported_stale(
    metrics: AgentMetrics, registry: CollectorRegistry, catalog: Catalog
) -> None:
    labels = {**PORTAL, "pcn": "true"}
    metrics.set_service(catalog, status("portal", State.UP))
    threshold = catalog.by_id["portal"].silence_threshold  # 2 x 60 s + 10 s
    seen = {"portal": NOW - timedelta(seconds=threshold - 1)}
    metrics.mark_stale(catalog, seen.get, NOW)
    assert registry.get_sample_value("vigia_service_stale", labels) == 0
    metrics.mark_stale(catalog, seen.get, NOW + timedelta(seconds=2))
    assert registry.get_sample_value("vigia_service_stale", labels) == 1
    assert registry.get_sample_value("vigia_service_up", labels) == 1  # the last known state


def test_unmonitored_and_removed_services_have_no_service_series(
    metrics: AgentMetrics, registry: CollectorRegistry, catalog: Catalog
) -> None:
    metrics.set_service(catalog, status("legacy", State.UP))
    metrics.set_service(catalog, status("mail", State.UP))
    metrics.observe(result("mail/tcp", Outcome.OK), "tcp")
    text = generate_latest(registry).decode()
    assert 'service="legacy"' not in text
    smaller = load_text(CATALOG.split("  - id: mail")[0])
    metrics.sync_catalog(smaller, lambda sid: status(sid, State.UP))
    text = generate_latest(registry).decode()
    assert 'service="mail"' not in text
    assert 'vigia_service_up{macro_service="desenvolvimento-aplicacoes"' in text


def test_restore_time_is_observed_once_per_closed_incident(
    metrics: AgentMetrics, registry: CollectorRegistry
) -> None:
    start = NOW - timedelta(minutes=30)
    opened = Incident(7, "portal", "platina", True, start, start + timedelta(minutes=2))
    closed = Incident(
        7, "portal", "platina", True, start, opened.confirmed_at, NOW, restore_seconds=1800.0
    )
    for incident in (opened, closed, closed):  # the same incident may be saved again
        metrics.incident_saved(incident)
    tier = {"tier": "platina"}
    assert registry.get_sample_value("vigia_restore_duration_seconds_count", tier) == 1
    assert registry.get_sample_value("vigia_restore_duration_seconds_sum", tier) == 1800
    assert (
        registry.get_sample_value("vigia_restore_duration_seconds_bucket", {**tier, "le": "1800.0"})
        == 1
    )


def test_fast_render_has_exactly_the_samples_of_generate_latest(
    metrics: AgentMetrics, registry: CollectorRegistry, catalog: Catalog
) -> None:
    metrics.set_service(catalog, status("portal", State.UP))
    metrics.observe(result("portal/http", Outcome.OK, phase_connect=0.01), "http")
    metrics.observe(result("portal/tls", Outcome.OK, not_after="2027-01-31T23:59:59Z"), "tls")
    fast, slow = samples(metrics.render()), samples(generate_latest(registry))
    volatile = {"process_cpu_seconds_total", "process_resident_memory_bytes",
                "process_virtual_memory_bytes", "process_open_fds"}  # fmt: skip
    assert {k for k in fast if k[0] not in volatile} == {k for k in slow if k[0] not in volatile}
    assert all(fast[k] == slow[k] for k in fast if k[0] not in volatile)
    assert (
        "vigia_service_up",
        frozenset({**PORTAL, "pcn": "true", "service": "portal"}.items()),
    ) in fast
    names = [
        line.split()[2]
        for line in metrics.render().decode().splitlines()
        if line.startswith("# TYPE")
    ]
    assert len(names) == len(set(names)), "every family is rendered once"


def test_a_series_keeps_one_string_its_line_and_rerenders_it_on_change() -> None:
    """~170,000 series at 10,000 services: a second string per series (its name and labels
    kept apart from its line) was ~25 MB of the agent's memory (#18 item 4)."""
    labels = ("s 1", 'a "quoted" name', "http")
    series = Series(sample_prefix("vigia_x", ("service", "check", "kind"), labels), labels)
    assert series.line == 'vigia_x{service="s 1",check="a \\"quoted\\" name",kind="http"} 0.0\n'
    for value in (1.0, 2.5, float("inf"), 0.0):
        series.set(value)
    series.inc(3.0)
    assert series.line == 'vigia_x{service="s 1",check="a \\"quoted\\" name",kind="http"} 3.0\n'
    strings = [r for r in gc.get_referents(series) if isinstance(r, str)]
    assert strings == [series.line]


def test_a_scrape_holds_its_body_about_once_not_twice(metrics: AgentMetrics) -> None:
    """The body is ~25 MB at 10,000 services and every scrape's peak is part of the agent's
    peak RSS (#18 item 4): rendering must not hold it twice (text and bytes, or bytes and
    head + bytes) on the way out."""
    many = "\n".join(
        f"  - {{id: s{i}, name: S{i}, macro_service: comunicacoes, tier: bronze,"
        f' checks: [{{http: {{url: "http://127.0.0.1:9/{i}"}}}}]}}'
        for i in range(1000)
    )
    catalog = load_text(f"version: 1\nservices:\n{many}\n")
    for svc in catalog.monitored:
        metrics.set_service(catalog, status(svc.id, State.UP))
    for check in catalog.checks:
        metrics.observe(result(check, Outcome.OK, phase_connect=0.01, phase_tls=0.02), "http")
    size = len(metrics.render())
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        body = metrics.render()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert size > 500_000 and abs(len(body) - size) < 1000  # process_* samples vary
    assert peak < 1.5 * size


def test_agent_metrics_never_emit_job_or_instance_labels(
    metrics: AgentMetrics, catalog: Catalog
) -> None:
    metrics.set_service(catalog, status("portal", State.UP))
    metrics.observe(result("portal/http", Outcome.OK), "http")
    for name, labels in samples(metrics.render()):
        assert not {k for k, _ in labels} & {"job", "instance"}, name
        assert name.startswith(("vigia_", "process_", "python_")), name


# ---- store-derived ------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    yield opened
    opened.close()


def store_metrics(store: SqlStore, catalog: Catalog, metrics: AgentMetrics) -> StoreMetrics:
    collector = StoreMetrics(
        store,
        lambda: catalog,
        lambda: MaintenanceCalendar(catalog),
        ManualClock(NOW),
        metrics.fast,
        timezone="Europe/Lisbon",
        quar=lambda: DEFAULT_QUAR,
    )
    metrics.add_fast(collector)
    return collector


def outage(store: SqlStore) -> None:
    """portal: up since Nov 1, down for the last hour (open incident #1); mail up since Nov 1;
    one closed incident (#2) on mail on Nov 10."""
    down_at = NOW - timedelta(hours=1)
    steps = (Transition("portal", datetime(2026, 11, 1, tzinfo=UTC), State.UP),
             Transition("portal", down_at, State.DOWN))  # fmt: skip
    mail = (Transition("mail", datetime(2026, 11, 1, tzinfo=UTC), State.UP),)
    ten = datetime(2026, 11, 10, tzinfo=UTC)
    seen = NOW - timedelta(seconds=5)
    restored = ten + timedelta(minutes=10)
    store.apply(
        [
            TimelineRewritten("portal", steps[0].at, steps),
            TimelineRewritten("mail", mail[0].at, mail),
            ResultRecorded(ProbeResult("portal/http", seen, 0.1, Outcome.FAIL)),
            ResultRecorded(ProbeResult("mail/tcp", seen, 0.1, Outcome.OK)),
            ServiceStatusSaved(ServiceStatus("portal", State.DOWN, down_at, seen)),
            ServiceStatusSaved(ServiceStatus("mail", State.UP, mail[0].at, seen)),
            IncidentSaved(Incident(1, "portal", "platina", True, down_at, down_at)),
            IncidentSaved(Incident(2, "mail", "ouro", False, ten, ten, restored, 600.0)),
        ]
    )  # fmt: skip


def test_store_figures_are_cached_and_a_scrape_never_queries_the_store(
    store: SqlStore, catalog: Catalog, metrics: AgentMetrics
) -> None:
    outage(store)
    collector = store_metrics(store, catalog, metrics)
    collector.refresh()
    store.close()  # any query from here on would fail
    got = samples(metrics.render())
    portal = frozenset({**PORTAL, "pcn": "true", "service": "portal"}.items())
    mail = frozenset({"service": "mail", "tier": "ouro", "macro_service": "comunicacoes",
                      "pcn": "false"}.items())  # fmt: skip
    assert got[("vigia_incident_open", portal)] == 1
    assert got[("vigia_incident_open", mail)] == 0
    started = (NOW - timedelta(hours=1)).timestamp()
    assert got[("vigia_incident_open_start_timestamp_seconds", portal)] == started
    assert got[("vigia_incidents_total", portal)] == 1
    assert got[("vigia_incidents_total", mail)] == 1
    assert got[("vigia_catalog_services", frozenset({("monitored", "true")}))] == 2
    assert got[("vigia_catalog_services", frozenset({("monitored", "false")}))] == 1
    assert got[("vigia_maintenance_active", portal)] == 0


def test_availability_windows_and_quar_indicators_in_base_units(
    store: SqlStore, catalog: Catalog, metrics: AgentMetrics
) -> None:
    outage(store)
    store_metrics(store, catalog, metrics).refresh()
    got = samples(metrics.render())
    portal = {**PORTAL, "pcn": "true", "service": "portal"}

    def ratio(window: str) -> float:
        return got[
            ("vigia_service_availability_ratio", frozenset({**portal, "window": window}.items()))
        ]

    assert ratio("1d") == pytest.approx(23 / 24)
    assert ratio("7d") == pytest.approx((7 * 24 - 1) / (7 * 24))
    # known since Nov 1 (Lisbon month starts at Nov 1 00:00 WET = 00:00 UTC)
    known = (NOW - datetime(2026, 11, 1, tzinfo=UTC)).total_seconds()
    assert ratio("30d") == pytest.approx((known - 3600) / known)
    assert ratio("month") == pytest.approx((known - 3600) / known)
    ind3 = (ratio("month") + 1.0) / 2
    assert got[("vigia_quar_indicator", frozenset({("indicator", "ind3")}))] == pytest.approx(ind3)
    assert got[("vigia_quar_indicator", frozenset({("indicator", "coverage")}))] == pytest.approx(
        2 / 3
    )
    # no closed platina+pcn incident this month: Ind.4 is N/A, so absent, and so is OP3's TR
    assert ("vigia_quar_indicator", frozenset({("indicator", "ind4")})) not in got
    tr = got[
        (
            "vigia_quar_taxa_realizacao_ratio",
            frozenset({("indicator", "ind3"), ("scope", "indicator")}),
        )
    ]
    # Ind.3 above the band's upper edge (99.5 %): 100 + 25 (R - U) / (VC - U), VC = 99.9 %
    assert tr * 100 == pytest.approx(min(125, 100 + 25 * (ind3 * 100 - 99.5) / 0.4))


def test_a_failing_refresh_keeps_the_previous_figures_and_counts_the_error(
    store: SqlStore, catalog: Catalog, metrics: AgentMetrics
) -> None:
    outage(store)
    collector = store_metrics(store, catalog, metrics)
    collector.refresh()
    store.close()
    store._engine.dispose()
    Path(str(store._engine.url.database)).unlink()
    collector.refresh()
    got = samples(metrics.render())
    assert got[("vigia_metrics_refresh_errors_total", frozenset())] >= 1
    assert got[("vigia_catalog_services", frozenset({("monitored", "true")}))] == 2


def test_a_paced_availability_pass_gives_the_same_figures(
    store: SqlStore, catalog: Catalog, metrics: AgentMetrics
) -> None:
    outage(store)
    plain = store_metrics(store, catalog, metrics)
    plain.refresh()
    paced = store_metrics(store, catalog, AgentMetrics(CollectorRegistry()))
    paced.pace = 0.5
    paced.refresh()
    assert paced.render() == plain.render().replace(
        _durations(plain.render()), _durations(paced.render())
    )


def _durations(text: str) -> str:
    return "".join(line for line in text.splitlines(True) if "refresh_duration" in line)


def test_a_paced_pass_stops_at_its_next_pause_once_the_collector_is_stopped(
    store: SqlStore,
) -> None:
    from agent.metrics.pacing import Paced, Stopped

    stopped = threading.Event()
    paced = Paced(store, 0.01, stopped)
    started = time.thread_time()
    while time.thread_time() - started < 2 * paced.SLICE:
        pass  # burn a slice of CPU: the next read pauses (for ~100x as long)
    stopped.set()
    began = time.monotonic()
    with pytest.raises(Stopped):
        paced.transitions("portal", NOW - timedelta(days=1), NOW)
    assert time.monotonic() - began < 0.5
