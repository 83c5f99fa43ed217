"""One owner computes the month-to-date figures; /metrics, the board and the API read them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from agent.catalog.loader import load_text
from agent.catalog.model import Catalog
from agent.metrics import AgentMetrics
from agent.metrics.store_derived import StoreMetrics
from agent.month_to_date import MonthToDate
from agent.store.sql import SqlStore
from checks.clock import ManualClock
from tests.metrics.test_metrics import CATALOG, NOW, PORTAL, outage, samples, store_metrics


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore.open(f"sqlite:///{tmp_path / 'vigia.db'}")
    yield opened
    opened.close()


@pytest.fixture
def catalog() -> Catalog:
    return load_text(CATALOG)


@pytest.fixture
def metrics() -> AgentMetrics:
    return AgentMetrics(CollectorRegistry())


def shared(
    store: SqlStore, catalog: Catalog, metrics: AgentMetrics
) -> tuple[StoreMetrics, MonthToDate]:
    collector = store_metrics(store, catalog, metrics)
    collector.month_to_date = MonthToDate(ManualClock(NOW))
    return collector, collector.month_to_date


def test_metrics_and_the_published_figures_come_from_one_computation(
    store: SqlStore, catalog: Catalog, metrics: AgentMetrics
) -> None:
    outage(store)
    collector, month = shared(store, catalog, metrics)
    assert month.current() is None and month.version == 0
    collector.refresh()
    figures = month.current()
    assert figures is not None and month.version == 1
    got = samples(metrics.render())
    ind3 = got[("vigia_quar_indicator", frozenset({("indicator", "ind3")}))]
    assert figures["quar"]["ind3"]["result"] is not None
    assert abs(ind3 - figures["quar"]["ind3"]["result"] / 100) < 1e-9
    by_id = {s["id"]: s for s in figures["services"]}
    labels = {**PORTAL, "pcn": "true", "window": "month"}
    portal = got[("vigia_service_availability_ratio", frozenset(labels.items()))]
    assert abs(portal - by_id["portal"]["availability"] / 100) < 1e-9


def test_only_an_availability_pass_publishes_new_figures(
    store: SqlStore, catalog: Catalog, metrics: AgentMetrics
) -> None:
    outage(store)
    collector, month = shared(store, catalog, metrics)
    collector.refresh()
    first = month.current()
    collector.refresh(availability=False)
    assert month.current() is first and month.version == 1
    collector.refresh()
    assert month.version == 2 and month.current() is not first


def test_age_counts_from_the_instant_the_figures_were_computed_for() -> None:
    clock = ManualClock(NOW)
    month = MonthToDate(clock)
    assert month.age() is None
    month.publish({"services": []}, NOW)
    clock.advance(42)
    assert month.age() == 42.0
