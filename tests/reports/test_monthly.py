"""The monthly report against an independent computation from the simulation's script.

The expected figures below are derived from `simulation`'s script and probe schedule with plain
interval arithmetic (no engine, no `agent.indicators.availability`), and must equal the report's to
the second.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.indicators.availability import service_time
from agent.indicators.periods import parse_period
from agent.indicators.quar_config import DEFAULT_QUAR
from agent.indicators.timeline import Timeline
from agent.maintenance import MaintenanceCalendar
from agent.records import State, Transition
from agent.reports.monthly import build_monthly, render_html, write_monthly
from agent.reports.monthly_model import MonthlyReport
from agent.store.sql import SqlStore
from tests.reports import simulation as sim

Span = tuple[datetime, datetime]
LISBON = ZoneInfo("Europe/Lisbon")
SILENCE = timedelta(seconds=2 * sim.TIMING.interval + sim.TIMING.timeout)


# ---- the independent computation -----------------------------------------------------------


def union(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def minus(spans: list[Span], holes: list[Span]) -> list[Span]:
    out = []
    for a, b in union(spans):
        pieces = [(a, b)]
        for h0, h1 in union(holes):
            pieces = [
                p for x, y in pieces for p in ((x, min(y, h0)), (max(x, h1), y)) if p[1] > p[0]
            ]
        out += pieces
    return out


def clip(spans: list[Span], lo: datetime, hi: datetime) -> list[Span]:
    return union([(max(a, lo), min(b, hi)) for a, b in spans])


def seconds(spans: list[Span]) -> int:
    return sum(int((b - a).total_seconds()) for a, b in union(spans))


def first_at_or_after(times: list[datetime], at: datetime) -> datetime | None:
    return next((t for t in times if t >= at), None)


@dataclass(frozen=True)
class Expected:
    maintenance: list[Span]
    unknown: list[Span]
    down: list[Span]  # incidents as [first failing probe, first ok probe); open ones run on
    degraded: list[Span]


@cache
def expected(service_id: str) -> Expected:
    times = sim.schedule(service_id)
    planned = [(w.start, w.end) for w in sim.WINDOWS
               if w.service == service_id and w.created_at <= w.start]  # fmt: skip
    if service_id in sim.RECURRING:  # Sundays 03:00 Lisbon, one hour
        sundays = [d for d in range(1, 32) if date(2026, 10, d).weekday() == 6]
        planned += [_local(d, 3) for d in sundays]
    before = max(t for t in times if t < sim.GAP[0])
    after = first_at_or_after(times, sim.GAP[1])
    assert after is not None and after - before > SILENCE
    return Expected(
        union(planned), [(before, after)], _spells(times, sim.OUTAGES, service_id),
        _spells(times, sim.DEGRADED, service_id),
    )  # fmt: skip


def _local(day: int, hour: int) -> Span:
    start = datetime(2026, 10, day, hour, tzinfo=LISBON)
    return (
        start.astimezone(sim.MONTH.start.tzinfo),
        (start + timedelta(hours=1)).astimezone(sim.MONTH.start.tzinfo),
    )


def _spells(times: list[datetime], spells: tuple[sim.Spell, ...], service_id: str) -> list[Span]:
    out = []
    for spell in spells:
        if spell.service == service_id:
            start = first_at_or_after(times, spell.start)
            end = first_at_or_after(times, spell.end) or sim.REPORT_AT
            assert start is not None
            out.append((start, end))
    return out


def buckets(e: Expected, lo: datetime, hi: datetime) -> dict[str, int]:
    maintenance = clip(e.maintenance, lo, hi)
    unknown = minus(clip(e.unknown, lo, hi), maintenance)
    down = minus(clip(e.down, lo, hi), maintenance + unknown)
    degraded = minus(clip(e.degraded, lo, hi), maintenance + unknown + down)
    total = int((hi - lo).total_seconds())
    return {
        "maintenance_seconds": seconds(maintenance), "unknown_seconds": seconds(unknown),
        "down_seconds": seconds(down), "degraded_seconds": seconds(degraded),
        "up_seconds": total - seconds(maintenance) - seconds(unknown) - seconds(down),
    }  # fmt: skip


def availability(b: dict[str, int]) -> float | None:
    known = b["up_seconds"] + b["down_seconds"]
    return None if known == 0 else b["up_seconds"] / known * 100


def restore_seconds(service_id: str, span: Span) -> int:
    return int((span[1] - span[0]).total_seconds()) - seconds(
        clip(expected(service_id).maintenance, *span)
    )


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    path = tmp_path_factory.mktemp("month") / "vigia.db"
    sql = SqlStore.open(f"sqlite:///{path}")
    sim.simulate(sql)
    yield sql
    sql.close()


@pytest.fixture(scope="module")
def report(store: SqlStore) -> MonthlyReport:
    cat = sim.catalog()
    calendar = MaintenanceCalendar(cat, tuple(store.windows()))
    return build_monthly(
        store, cat, calendar, DEFAULT_QUAR, sim.MONTH, sim.REPORT_AT, "Europe/Lisbon"
    )


@pytest.fixture(scope="module")
def written(report: MonthlyReport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    files = write_monthly(report, out, ["html", "csv", "json"], "pt")
    return {p.name: p for p in files}


@pytest.fixture(scope="module")
def doc(written: dict[str, Path]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(written["vigia-2026-10.json"].read_text())
    return data


MONITORED = [sim.sid(i) for i in range(sim.SERVICES)]


# ---- figures equal the independent computation ---------------------------------------------


def test_every_service_bucket_equals_the_script_to_the_second(doc: dict[str, Any]) -> None:
    services = {s["id"]: s for s in doc["services"]}
    for service_id in MONITORED:
        want = buckets(expected(service_id), sim.MONTH.start, sim.MONTH.end)
        got = {k: services[service_id][k] for k in want}
        assert got == want, service_id
        assert services[service_id]["availability"] == pytest.approx(availability(want), abs=1e-9)


def test_ind3_is_the_mean_of_the_known_availabilities(doc: dict[str, Any]) -> None:
    values = [availability(buckets(expected(s), sim.MONTH.start, sim.MONTH.end)) for s in MONITORED]
    ind3 = doc["ind3"]
    assert ind3["value"] == pytest.approx(statistics.fmean(v for v in values if v is not None))
    assert ind3["count"] == sim.SERVICES
    assert ind3["na_services"] == [sim.SILENT]


def _platinum_pcn(service_id: str) -> bool:
    index = int(service_id[4:])
    return index % 4 == 0 and index % 8 == 0


def test_ind4_equals_the_restore_times_of_closed_platinum_pcn_incidents(
    doc: dict[str, Any],
) -> None:
    restores, still_open = [], []
    for service_id in filter(_platinum_pcn, MONITORED):
        for span in expected(service_id).down:
            if span[1] >= sim.MONTH.end:
                still_open.append(service_id)
            elif sim.MONTH.start <= span[1] < sim.MONTH.end:
                restores.append(restore_seconds(service_id, span))
    ind4 = doc["ind4"]
    assert ind4["count"] == len(restores)
    assert ind4["value"] == pytest.approx(statistics.fmean(r / 60 for r in restores))
    assert ind4["median"] == pytest.approx(statistics.median(r / 60 for r in restores))
    assert [o["service"] for o in ind4["open"]] == still_open == [sim.sid(48)]
    listed = sorted(p["restore_seconds"] for p in doc["platinum_incidents"] if p["counted"])
    assert listed == sorted(restores)


def test_restore_time_excludes_planned_maintenance_but_not_unknown_time(
    doc: dict[str, Any],
) -> None:
    rows = {(p["service"], p["started_at"][:16]): p for p in doc["platinum_incidents"]}
    in_window = rows[(sim.sid(8), "2026-10-10T02:30")]
    assert (in_window["restore_seconds"], in_window["maintenance_seconds"]) == (20 * 60, 30 * 60)
    across_gap = rows[(sim.sid(16), "2026-10-18T01:30")]
    assert across_gap["restore_seconds"] == 13.5 * 3600


def test_coverage_counts_the_unmonitored_and_the_silent_service(doc: dict[str, Any]) -> None:
    coverage = doc["coverage"]
    assert (coverage["covered"], coverage["total"]) == (sim.SERVICES, sim.SERVICES + 2)
    assert coverage["not_covered"] == [sim.UNMONITORED, sim.SILENT]
    assert coverage["grade"] == "superou"


def test_daily_tier_series_equal_the_script_day_by_day(report: MonthlyReport) -> None:
    platina = [s for s in MONITORED if int(s[4:]) % 4 == 0]
    assert len(report.days) == 31
    for index, day in enumerate(report.days):
        # in UTC: a difference of two datetimes in the same zone ignores the DST change
        lo = datetime(day.year, day.month, day.day, tzinfo=LISBON).astimezone(UTC)
        following = day + timedelta(days=1)
        hi = datetime(following.year, following.month, following.day, tzinfo=LISBON)
        hi = hi.astimezone(UTC)
        values = [availability(buckets(expected(s), lo, hi)) for s in platina]
        known = [v for v in values if v is not None]
        assert report.daily["platina"][index] == pytest.approx(statistics.fmean(known)), day


def test_retroactive_window_is_listed_and_excludes_nothing(doc: dict[str, Any]) -> None:
    windows = {(w["service"], w["kind"]): w for w in doc["maintenance_windows"]}
    assert windows[(sim.sid(24), "adhoc")]["retroactive"] is True
    assert windows[(sim.sid(8), "adhoc")]["retroactive"] is False
    assert windows[(sim.sid(5), "recurring")]["occurrences"] == 4
    services = {s["id"]: s for s in doc["services"]}
    assert services[sim.sid(24)]["maintenance_seconds"] == 0
    assert services[sim.sid(24)]["down_seconds"] == 40 * 60


def test_child_incident_names_its_parent_as_root_cause(store: SqlStore) -> None:
    child = store.incidents(service=sim.sid(1))
    assert [i.root_cause for i in child] == [sim.sid(0)]


# ---- the outputs ---------------------------------------------------------------------------


def test_csv_has_the_same_figures_as_the_json(
    written: dict[str, Path], doc: dict[str, Any]
) -> None:
    with written["vigia-2026-10-servicos.csv"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_id = {s["id"]: s for s in doc["services"]}
    assert len(rows) == len(by_id)
    for row in rows:
        want = by_id[row["id"]]
        assert float(row["down_seconds"]) == want["down_seconds"]
        assert row["availability"] == (
            "" if want["availability"] is None else str(want["availability"])
        )
    with written["vigia-2026-10-quar.csv"].open(encoding="utf-8") as handle:
        quar = {r["indicator"]: r for r in csv.DictReader(handle)}
    assert set(quar) == {"ind3", "ind4", "coverage", "OP3"}
    assert float(quar["ind3"]["result"]) == doc["ind3"]["value"]


def test_html_is_self_contained_portuguese_with_quar_table(written: dict[str, Path]) -> None:
    html = written["vigia-2026-10.html"].read_text(encoding="utf-8")
    assert 'lang="pt-PT"' in html
    for term in ("Taxa de realização", "Tolerância", "Valor crítico", "Peso", "Classificação",
                 "Janelas de manutenção", "abrangência", "Tempo de reposição"):  # fmt: skip
        assert term.lower() in html.lower(), term
    assert "<script" not in html and "<link" not in html
    assert 'src="http' not in html and 'href="http' not in html and "url(http" not in html
    assert html.count("<svg") == 3  # the three charts, inline
    assert "retroativa" in html


def test_english_report_uses_english_terms(report: MonthlyReport) -> None:
    html = render_html(report, "en")
    assert 'lang="en"' in html and "Achievement rate" in html and "Taxa de realização" not in html


def test_names_from_the_catalogue_are_escaped(report: MonthlyReport) -> None:
    html = render_html(report, "pt")
    assert "<script>" not in html
    assert "Serviço 000" in html


def test_month_without_data_says_so_and_never_shows_100(store: SqlStore, tmp_path: Path) -> None:
    cat = sim.catalog()
    empty = build_monthly(
        store, cat, MaintenanceCalendar(cat), DEFAULT_QUAR, parse_period("2026-12"),
        sim.REPORT_AT, "Europe/Lisbon",
    )  # fmt: skip
    assert not empty.has_data
    html = render_html(empty, "pt")
    assert 'id="no-data"' in html
    assert "100,000 %" not in html  # no service or group shown at 100 %
    ind3_row = html.split('data-indicator="ind3"')[1].split("</tr>")[0]
    assert ind3_row.count("N/A") == 3  # result, taxa de realização, classificação
    assert empty.assessment.objective.tr is None
    files = write_monthly(empty, tmp_path, ["json"], "pt")
    data = json.loads(files[0].read_text())
    assert data["ind3"]["value"] is None and data["op3"]["grade"] is None
    assert all(s["availability"] is None for s in data["services"])


# ---- the daily fast path is the sweep ------------------------------------------------------

_T0 = datetime(2026, 10, 1, tzinfo=UTC)
_MINUTES = st.integers(min_value=0, max_value=6 * 1440)


def _at(minutes: int) -> datetime:
    return _T0 + timedelta(minutes=minutes)


@given(
    st.lists(st.tuples(_MINUTES, st.sampled_from(list(State))), max_size=6),
    st.lists(st.tuples(_MINUTES, _MINUTES), max_size=2),
    st.lists(st.tuples(_MINUTES, _MINUTES), max_size=2),
    st.one_of(st.none(), _MINUTES),
    _MINUTES,
    st.integers(min_value=1, max_value=2 * 1440),
)
def test_timeline_time_equals_the_availability_sweep(
    steps: list[tuple[int, State]],
    unknown: list[tuple[int, int]],
    planned: list[tuple[int, int]],
    known: int | None,
    start: int,
    length: int,
) -> None:
    transitions = tuple(
        sorted((Transition("s", _at(m), state) for m, state in steps), key=lambda t: t.at)
    )
    spans = [(_at(a), _at(b)) for a, b in unknown]
    windows = [(_at(a), _at(b)) for a, b in planned]
    limit = None if known is None else _at(known)
    timeline = Timeline(transitions, tuple(spans), tuple(windows), limit)
    lo, hi = _at(start), _at(start + length)
    assert timeline.time(lo, hi) == service_time(transitions, spans, windows, limit, lo, hi)


@given(
    st.lists(st.tuples(_MINUTES, st.sampled_from(list(State))), max_size=6),
    st.lists(st.tuples(_MINUTES, _MINUTES), max_size=2),
    st.lists(st.tuples(_MINUTES, _MINUTES), max_size=2),
    st.one_of(st.none(), _MINUTES),
    _MINUTES,
    st.lists(st.integers(min_value=0, max_value=1440), min_size=1, max_size=8),
)
def test_timeline_split_equals_the_sweep_of_each_range(
    steps: list[tuple[int, State]],
    unknown: list[tuple[int, int]],
    planned: list[tuple[int, int]],
    known: int | None,
    start: int,
    lengths: list[int],
) -> None:
    transitions = tuple(
        sorted((Transition("s", _at(m), state) for m, state in steps), key=lambda t: t.at)
    )
    spans = [(_at(a), _at(b)) for a, b in unknown]
    windows = [(_at(a), _at(b)) for a, b in planned]
    limit = None if known is None else _at(known)
    timeline = Timeline(transitions, tuple(spans), tuple(windows), limit)
    bounds = [_at(start)]
    for length in lengths:  # zero-length ranges included
        bounds.append(bounds[-1] + timedelta(minutes=length))
    expected = [
        service_time(transitions, spans, windows, limit, lo, hi) for lo, hi in pairwise(bounds)
    ]
    assert timeline.split(bounds) == expected
    assert [timeline.time(lo, hi) for lo, hi in pairwise(bounds)] == expected
