"""Maintenance cron lines follow crontab(5): 0 and 7 are Sunday, names, ranges, day OR weekday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.catalog.model import MaintenanceRule
from agent.maintenance import cron_schedule, rule_windows


def _days(cron: str, start: datetime, days: int = 14, zone: str = "UTC") -> list[str]:
    """Local weekday-and-date of every firing in [start, start + days)."""
    rule = MaintenanceRule(cron, 60.0, zone)
    windows = rule_windows(rule, start, start + timedelta(days=days))
    return [begin.astimezone(ZoneInfo(zone)).strftime("%a %d") for begin, _ in windows]


MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("dow", "weekdays"),
    [
        ("0", {"Sun"}),
        ("7", {"Sun"}),
        ("sun", {"Sun"}),
        ("SUN", {"Sun"}),
        ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("mon-fri", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("sun-sat", {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}),
        ("0-7", {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}),
        ("5-7", {"Fri", "Sat", "Sun"}),
        ("fri-sun", {"Fri", "Sat", "Sun"}),
        ("6,0", {"Sat", "Sun"}),
        ("1-5/2", {"Mon", "Wed", "Fri"}),
        ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
    ],
)
def test_day_of_week_follows_crontab(dow: str, weekdays: set[str]) -> None:
    fired = _days(f"0 2 * * {dow}", MONDAY)
    assert {d.split()[0] for d in fired} == weekdays
    assert len(fired) == 2 * len(weekdays)  # two weeks: each day twice, nothing else


def test_sunday_0200_lisbon_is_local_time_across_the_october_dst_change() -> None:
    rule = MaintenanceRule("0 2 * * 0", 7200.0, "Europe/Lisbon")
    windows = rule_windows(
        rule, datetime(2026, 10, 12, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    )
    assert windows == [
        (datetime(2026, 10, 18, 1, 0, tzinfo=UTC), datetime(2026, 10, 18, 3, 0, tzinfo=UTC)),
        (datetime(2026, 10, 25, 2, 0, tzinfo=UTC), datetime(2026, 10, 25, 4, 0, tzinfo=UTC)),
    ]


def test_window_that_started_before_the_range_still_counts() -> None:
    rule = MaintenanceRule("0 2 * * 0", 7200.0, "Europe/Lisbon")
    start = datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # inside the window
    assert rule_windows(rule, start, start + timedelta(minutes=1)) == [
        (datetime(2026, 10, 25, 2, 0, tzinfo=UTC), datetime(2026, 10, 25, 4, 0, tzinfo=UTC))
    ]


def test_day_of_month_and_weekday_both_given_fire_on_either() -> None:
    # crontab(5): "0 2 1 * 0" is the 1st of the month AND every Sunday, not Sundays that are 1st
    fired = _days("0 2 1 * 0", datetime(2026, 3, 1, tzinfo=UTC), days=32)
    assert fired == ["Sun 01", "Sun 08", "Sun 15", "Sun 22", "Sun 29", "Wed 01"]


def test_a_star_day_of_month_keeps_the_weekday_restriction() -> None:
    fired = _days("0 2 */1 * 6", MONDAY)
    assert fired == ["Sat 07", "Sat 14"]


@pytest.mark.parametrize("dow", ["8", "0-8", "mo", "sun-", "*/0", "1/x", "5-1"])
def test_bad_day_of_week_names_the_field(dow: str) -> None:
    with pytest.raises(ValueError, match="day-of-week"):
        cron_schedule(f"0 2 * * {dow}", "UTC")


def test_a_starred_weekday_step_keeps_and_semantics_with_a_day_of_month() -> None:
    # crontab(5): a field starting with "*" does not restrict, so "15 * */2" is the 15th when it
    # is also an even weekday (AND), not "the 15th OR every other day"
    fired = _days("0 2 15 * */2", datetime(2026, 1, 1, tzinfo=UTC), days=365)
    assert fired and all(day.endswith("15") for day in fired)
    assert {d.split()[0] for d in fired} <= {"Sun", "Tue", "Thu", "Sat"}


def test_a_local_time_skipped_by_the_spring_dst_change_fires_after_the_jump() -> None:
    rule = MaintenanceRule("30 1 * * *", 600.0, "Europe/Lisbon")  # 01:30 does not exist 29 Mar
    windows = rule_windows(
        rule, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    )
    assert [begin for begin, _ in windows] == [
        datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 02:00 WEST, the first instant after 01:00
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("cron", "field"), [("0 0 30 2 *", "day-of-month"), ("61 * * * *", "minute")]
)
def test_a_line_that_can_never_fire_or_a_bad_field_is_refused(cron: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        cron_schedule(cron, "UTC")
