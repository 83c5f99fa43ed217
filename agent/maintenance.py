"""Planned maintenance: catalogue cron windows and ad-hoc windows (semantics.md §5)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from agent.bounds import ALLOWED, within
from agent.catalog.model import Catalog, MaintenanceRule
from agent.records import MaintenanceWindow

Interval = tuple[datetime, datetime]

_log = logging.getLogger(__name__)

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FULL_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


@dataclass(frozen=True)
class CronSchedule:
    """A standard 5-field crontab line in a time zone, walked by cronsim (crontab(5)
    semantics: when both day-of-month and day-of-week are restricted, either one fires; a
    local time skipped by a DST change fires when the clocks have jumped, as cron does)."""

    expression: str  # the day-of-week field rewritten as numbers 0-6 (0 = Sunday)
    zone: ZoneInfo

    def after(self, moment: datetime) -> Iterator[datetime]:
        """Every firing strictly after `moment`, as aware datetimes in the zone."""
        return CronSim(self.expression, moment.astimezone(self.zone))


def cron_schedule(expression: str, timezone: str) -> CronSchedule:
    """The schedule of a crontab line (0 or 7 = Sunday, names, ranges that wrap to Sunday such
    as "fri-sun"), in `timezone`. Raises ValueError naming the bad field."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} is not a 5-field cron expression")
    minute, hour, day, month, dow = fields
    for name, text, (low, high) in zip(_FIELD_NAMES, fields, _FIELD_RANGES, strict=False):
        _check_range(name, text, low, high)
    zone = ZoneInfo(timezone)
    schedule = CronSchedule(" ".join((minute, hour, day, month, _weekday_numbers(dow))), zone)
    try:
        next(schedule.after(datetime(2026, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise ValueError(str(exc)) from None
    except StopIteration:
        raise ValueError(f"{expression!r} never fires") from None
    return schedule


_FIELD_NAMES = ("minute", "hour", "day-of-month", "month")
_FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12))


def _check_range(name: str, text: str, low: int, high: int) -> None:
    """Each number of a field within its range, said with the range (cronsim says "Bad")."""
    for part in text.split(","):
        values, _, step = part.partition("/")
        for token in values.split("-"):
            if token.isascii() and token.isdigit() and not low <= int(token) <= high:
                raise ValueError(
                    f"{name} {text!r}: {token} is outside the minimum value ({low}) "
                    f"and the maximum value ({high})"
                )
        if step and not (step.isascii() and step.isdigit() and int(step) > 0):
            raise ValueError(f"{name} {text!r}: bad step {step!r}")


def _weekday_numbers(field: str) -> str:
    """The day-of-week field with names, 7 and wrapped ranges resolved to cron numbers;
    a field starting with "*" is kept as written once checked: crontab(5) reads such a field
    ("*/2" too) as not restricting, which decides between "day OR weekday" and "AND"."""
    days: set[int] = set()
    for part in field.split(","):
        days |= _weekday_part(part.strip().lower(), field)
    return field if field.startswith("*") else ",".join(str(d) for d in sorted(days))


def _weekday_part(part: str, field: str) -> set[int]:
    base, slash, step_text = part.partition("/")
    if slash and not (step_text.isascii() and step_text.isdigit() and int(step_text) > 0):
        raise ValueError(f"day-of-week {field!r}: bad step {step_text!r}")
    step = int(step_text) if slash else 1
    if base == "*":
        first, last = 0, 6
    elif "-" in base:
        low, high = base.split("-", 1)
        first, last = _weekday(low, field), _weekday(high, field)
        if last == 0 and first > 0:
            last = 7  # "5-0" and "fri-sun" run to Sunday
    else:
        first = last = _weekday(base, field)
    if first > last:
        raise ValueError(f"day-of-week {field!r}: range {base!r} runs backwards")
    return {d % 7 for d in range(first, last + 1, step)}


def _weekday(token: str, field: str) -> int:
    """0-7 as written (7 is Sunday too, kept so that "0-7" spans the week), or a name."""
    if token.isascii() and token.isdigit() and int(token) <= 7:
        return int(token)
    for names in (_DAY_NAMES, _FULL_NAMES):
        if token in names:
            return names.index(token)
    raise ValueError(f"day-of-week {field!r}: {token!r} is not a weekday (0-7 or sun-sat)")


# Parsing the expression and the zone was most of a lookup's cost: each (expression, zone) is
# parsed once (a schedule is immutable; each walk is its own iterator).
_cached_schedule = functools.lru_cache(maxsize=4096)(cron_schedule)
NEAR_SPAN = timedelta(hours=1)  # how far ahead one lookup of a rule's occurrences is kept


def rule_windows(rule: MaintenanceRule, start: datetime, end: datetime) -> list[Interval]:
    """Occurrences of a recurring window that overlap [start, end)."""
    schedule = _cached_schedule(rule.cron, rule.timezone)
    length = timedelta(seconds=rule.duration)
    windows: list[Interval] = []
    # strictly after: one microsecond back, so a window starting at start - length counts
    for fire in schedule.after(start - length - timedelta(microseconds=1)):
        begin = fire.astimezone(UTC)  # aware + timedelta is wall-clock arithmetic: go UTC first
        if begin >= end:
            break
        if begin + length > start:
            windows.append((begin, begin + length))
    return windows


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union."""
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def overlap_seconds(start: datetime, end: datetime, windows: Sequence[Interval]) -> float:
    """Seconds of [start, end) covered by the (merged) windows."""
    total = 0.0
    for begin, finish in windows:
        lo, hi = max(start, begin), min(end, finish)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


@dataclass
class MaintenanceCalendar:
    """Answers "was this service in planned maintenance then?" for the engine and reports."""

    catalog: Catalog
    adhoc: Sequence[MaintenanceWindow] = ()
    allow_retroactive: bool = False
    skipped: set[int] = field(default_factory=set, repr=False, compare=False)
    # per rule: the span [lo, hi) last looked up and the occurrences overlapping it, so the
    # engine's question for every result (in time order, mostly) costs a comparison
    _near: dict[MaintenanceRule, tuple[datetime, datetime, list[Interval]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def planned(self, service: str, start: datetime, end: datetime) -> list[Interval]:
        """Merged planned windows of `service` overlapping [start, end)."""
        found: list[Interval] = []
        svc = self.catalog.by_id.get(service)
        for rule in svc.maintenance if svc else ():
            found.extend(rule_windows(rule, start, end))
        for window in self.adhoc:
            counts = window.service == service and self._sane(window) and self._counts(window)
            if counts and window.start < end and window.end > start:
                found.append((window.start, window.end))
        return merge(found)

    def in_planned(self, service: str, at: datetime) -> bool:
        """`planned(service, at, at + 1 us)` is not empty, answered from the rules' cached
        occurrences near `at`."""
        svc = self.catalog.by_id.get(service)
        for rule in svc.maintenance if svc else ():
            if any(begin <= at < end for begin, end in self._occurrences_near(rule, at)):
                return True
        return any(
            w.service == service and w.start <= at < w.end and self._sane(w) and self._counts(w)
            for w in self.adhoc
        )

    def _occurrences_near(self, rule: MaintenanceRule, at: datetime) -> list[Interval]:
        cached = self._near.get(rule)
        if cached is not None and cached[0] <= at < cached[1]:
            return cached[2]
        windows = rule_windows(rule, at, at + NEAR_SPAN)
        self._near[rule] = (at, at + NEAR_SPAN, windows)
        return windows

    def overlap(self, service: str, start: datetime, end: datetime) -> float:
        return overlap_seconds(start, end, self.planned(service, start, end))

    def _sane(self, window: MaintenanceWindow) -> bool:
        # one stored row with an extreme date must not make every later question fail
        if within(window.start) and within(window.end):
            return True
        if window.id not in self.skipped:
            self.skipped.add(window.id)
            _log.warning("maintenance window %s skipped: outside %s", window.id, ALLOWED)
        return False

    def _counts(self, window: MaintenanceWindow) -> bool:
        if window.cancelled_at is not None and window.cancelled_at <= window.start:
            return False
        return self.allow_retroactive or not window.retroactive
