"""Reporting periods: a month, a quarter, a year or an explicit range, as UTC instants.

Months, quarters and years start at local midnight in the reporting timezone (Europe/Lisbon by
default), because that is how the QUAR and the monthly reports count them; the boundaries are
then converted to UTC, so a month with a DST change is 743 or 745 hours long, not 744.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.bounds import ALLOWED, EARLIEST, LATEST, OutOfRange, bounded, within

DEFAULT_TIMEZONE = "Europe/Lisbon"

_YEAR = re.compile(r"(\d{4})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_QUARTER = re.compile(r"(\d{4})-[Qq](\d)")


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in timezone-aware UTC, with the label reports print."""

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"period {self.label!r}: start and end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(
                f"period {self.label!r}: end {self.end.isoformat()} is not after "
                f"start {self.start.isoformat()}"
            )
        if not (within(self.start) and within(self.end)):
            raise OutOfRange(f"period {self.label!r} is outside the allowed range {ALLOWED}")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def parse_period(text: str, tz: str | tzinfo = DEFAULT_TIMEZONE) -> Period:
    """ "2026" (a year), "2026-Q4" (a quarter) or "2026-10" (a month), local midnights in `tz`.

    Raises ValueError naming the bad value.
    """
    zone = time_zone(tz)
    value = text.strip()
    if match := _YEAR.fullmatch(value):
        year = _year(text, match[1])
        return _local_period(zone, (year, 1), (year + 1, 1), f"{year:04d}")
    if match := _QUARTER.fullmatch(value):
        year, quarter = _year(text, match[1]), int(match[2])
        if not 1 <= quarter <= 4:
            raise ValueError(f"period {text!r}: quarter Q{quarter} is not Q1-Q4")
        first = 3 * (quarter - 1) + 1
        return _local_period(
            zone, (year, first), _next_month(year, first + 2), f"{year}-Q{quarter}"
        )
    if match := _MONTH.fullmatch(value):
        year, month = _year(text, match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"period {text!r}: month {month} is not 1-12")
        return _local_period(zone, (year, month), _next_month(year, month), f"{year}-{month:02d}")
    raise ValueError(
        f"period {text!r} is not YYYY, YYYY-Qn or YYYY-MM (e.g. 2026, 2026-Q4, 2026-10)"
    )


def period_from_range(from_iso: str, to_iso: str, tz: str | tzinfo = DEFAULT_TIMEZONE) -> Period:
    """[from, to) from two ISO 8601 timestamps; one without an offset is local time in `tz`.

    The label is the ISO 8601 interval "start/end" with the offsets as given or resolved.
    """
    zone = time_zone(tz)
    start = _instant(from_iso, zone, "from")
    end = _instant(to_iso, zone, "to")
    label = f"{start.isoformat()}/{end.isoformat()}"
    if end <= start:
        raise ValueError(f"range {label!r}: 'to' {to_iso!r} is not after 'from' {from_iso!r}")
    return Period(bounded(start), bounded(end), label)


def _instant(text: str, zone: tzinfo, which: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"range {which!r}: {text!r} is not an ISO 8601 timestamp") from None
    # zoneinfo resolves a naive wall time in a DST gap or overlap by `fold`; 0 = the earlier one
    moment = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    if not within(moment):  # before any conversion: 0001-01-01+23:59 overflows in UTC
        raise OutOfRange(f"range {which!r}: {text!r} is outside the allowed range {ALLOWED}")
    return moment


def _local_period(
    zone: tzinfo, first: tuple[int, int], after: tuple[int, int], label: str
) -> Period:
    start = datetime(first[0], first[1], 1, tzinfo=zone)
    end = datetime(after[0], after[1], 1, tzinfo=zone)
    return Period(start.astimezone(UTC), end.astimezone(UTC), label)


def _year(text: str, digits: str) -> int:
    # checked before building any datetime: year 1 in UTC+1 would overflow on conversion
    first, last = EARLIEST.year, LATEST.year - 1
    if not first <= int(digits) <= last:
        raise OutOfRange(
            f"period {text!r}: year {digits} is not {first}-{last} (allowed range {ALLOWED})"
        )
    return int(digits)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def time_zone(tz: str | tzinfo) -> tzinfo:
    """The zone named `tz`; ValueError naming it when it is not one."""
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {tz!r} is not a known IANA timezone") from None
