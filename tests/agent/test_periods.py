from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.bounds import OutOfRange
from agent.indicators.periods import Period, parse_period, period_from_range

HOUR = timedelta(hours=1)


def hours(period: Period) -> float:
    return (period.end - period.start) / HOUR


def test_month_starts_and_ends_at_lisbon_midnight_in_utc() -> None:
    period = parse_period("2026-07")  # summer time, UTC+1
    assert period.start == datetime(2026, 6, 30, 23, tzinfo=UTC)
    assert period.end == datetime(2026, 7, 31, 23, tzinfo=UTC)
    assert period.label == "2026-07"


def test_march_in_lisbon_loses_an_hour_to_summer_time() -> None:
    assert hours(parse_period("2026-03")) == 743


def test_october_in_lisbon_gains_an_hour_back() -> None:
    period = parse_period("2026-10")
    assert hours(period) == 745
    assert period.start == datetime(2026, 9, 30, 23, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 1, tzinfo=UTC)


def test_quarter_spans_three_local_months() -> None:
    period = parse_period("2026-Q4")
    assert (period.start, period.end) == (
        datetime(2026, 9, 30, 23, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert period.label == "2026-Q4"
    assert parse_period("2026-q1").start == datetime(2026, 1, 1, tzinfo=UTC)


def test_year_runs_from_local_new_year_to_the_next() -> None:
    period = parse_period("2026")
    assert (period.start, period.end) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert hours(period) == 365 * 24


def test_another_timezone_moves_the_boundaries() -> None:
    period = parse_period("2026-01", "America/New_York")
    assert period.start == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert parse_period("2026-01", ZoneInfo("UTC")).start == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "'2026-13': month 13 is not 1-12"),
        ("2026-00", "month 0 is not 1-12"),
        ("2026-Q5", "'2026-Q5': quarter Q5 is not Q1-Q4"),
        ("0000", "year 0000 is not"),
        ("0001-01", "year 0001 is not 1970-2099 .allowed range 1970-01-01T00:00:00Z"),
        ("9998", "year 9998 is not 1970-2099"),
        ("2100-Q1", "year 2100 is not 1970-2099"),
        ("1970-01", "'1970-01' is outside the allowed range 1970-01-01T00:00:00Z"),
        ("26-10", "'26-10' is not YYYY, YYYY-Qn or YYYY-MM"),
        ("october", "'october' is not YYYY"),
        ("", "'' is not YYYY"),
    ],
)
def test_bad_period_is_refused_naming_the_value(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(text)


def test_unknown_timezone_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'Europe/Lisboa' is not a known IANA timezone"):
        parse_period("2026-10", "Europe/Lisboa")


def test_range_with_offsets_is_taken_as_given() -> None:
    period = period_from_range("2026-10-01T00:00:00+01:00", "2026-10-02T00:00:00Z")
    assert period.start == datetime(2026, 9, 30, 23, tzinfo=UTC)
    assert period.end == datetime(2026, 10, 2, tzinfo=UTC)
    assert period.label == "2026-10-01T00:00:00+01:00/2026-10-02T00:00:00+00:00"


def test_range_without_offset_is_local_time_in_the_timezone() -> None:
    period = period_from_range("2026-10-25", "2026-10-26")  # the autumn DST change day
    assert period.start == datetime(2026, 10, 24, 23, tzinfo=UTC)
    assert hours(period) == 25


def test_range_start_and_end_are_utc() -> None:
    period = period_from_range("2026-01-01T10:00:00+05:30", "2026-01-01T12:00:00+05:30")
    assert period.start.utcoffset() == timedelta(0)
    assert period.start == datetime(2026, 1, 1, 4, 30, tzinfo=UTC)


def test_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="'to' '2026-10-01' is not after 'from' '2026-10-02'"):
        period_from_range("2026-10-02", "2026-10-01")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+23:59", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"),
        ("0001-01-01", "2026-01-01"),
        ("1969-12-31T23:59:59Z", "2026-01-01T00:00:00Z"),
    ],
)
def test_range_outside_the_allowed_instants_is_refused_stating_the_range(
    start: str, end: str
) -> None:
    with pytest.raises(OutOfRange, match="outside the allowed range 1970-01-01T00:00:00Z"):
        period_from_range(start, end)


def test_range_with_a_bad_timestamp_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'from': '2026-10-32' is not an ISO 8601 timestamp"):
        period_from_range("2026-10-32", "2026-11-01")


@given(st.integers(min_value=1971, max_value=2099), st.integers(min_value=1, max_value=12))
def test_consecutive_months_meet_without_gap_or_overlap(year: int, month: int) -> None:
    if year == 2099 and month == 12:
        return  # the next month, 2100-01, is refused: it ends after the allowed range
    this = parse_period(f"{year:04d}-{month:02d}")
    following = f"{year + 1:04d}-01" if month == 12 else f"{year:04d}-{month + 1:02d}"
    assert this.end == parse_period(following).start
    assert 27 * 24 < hours(this) < 32 * 24


@given(st.integers(min_value=1971, max_value=2099), st.integers(min_value=1, max_value=4))
def test_a_quarter_is_its_three_months(year: int, quarter: int) -> None:
    months = [parse_period(f"{year}-{3 * (quarter - 1) + i}") for i in (1, 2, 3)]
    whole = parse_period(f"{year}-Q{quarter}")
    assert (whole.start, whole.end) == (months[0].start, months[-1].end)


def test_period_refuses_naive_or_empty_bounds() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        Period(naive, naive + HOUR, "x")
    aware = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValueError, match="is not after"):
        Period(aware, aware, "x")
