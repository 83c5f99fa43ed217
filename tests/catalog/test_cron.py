"""Maintenance cron lines follow crontab(5): 0 and 7 are Sunday, names, ranges, day OR weekday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.catalog.model import MaintenanceRule
from agent.maintenance import cron_trigger, rule_windows


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
        cron_trigger(f"0 2 * * {dow}", "UTC")
