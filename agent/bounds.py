"""The one range of instants vigia accepts from any input: API bodies, query strings, the CLI.

Python's datetime stops at years 1 and 9999, so a valid ISO 8601 value such as
`0001-01-01T00:00:00+23:59` is before `datetime.min` once converted to UTC: accepting it
stores a row that no later read can turn back into a datetime. Every instant and period that
enters vigia is checked against [EARLIEST, LATEST] here, before any arithmetic, so bad input
is a 4xx (or exit 2) naming this range, never a 500 later. 1970..2100 covers any real
monitoring history and any planned window, with centuries of margin from datetime's limits.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
ALLOWED = f"{EARLIEST:%Y-%m-%dT%H:%M:%SZ} .. {LATEST:%Y-%m-%dT%H:%M:%SZ}"


class OutOfRange(ValueError):
    """An instant outside [EARLIEST, LATEST]; the message states the allowed range."""


def within(moment: datetime) -> bool:
    """True if the aware `moment` is inside the range (compared without converting it)."""
    # comparing aware datetimes subtracts offsets as timedeltas: no overflow, unlike astimezone
    return EARLIEST <= moment <= LATEST


def bounded(moment: datetime, what: str = "date/time", zone: tzinfo | None = None) -> datetime:
    """`moment` in UTC, if inside the range; a naive one is taken in `zone` (required then).

    Raises OutOfRange (a ValueError) naming the value and the allowed range, or ValueError
    for a naive value without a zone.
    """
    if moment.tzinfo is None:
        if zone is None:
            raise ValueError(f"{what} {moment.isoformat()} has no UTC offset")
        moment = moment.replace(tzinfo=zone)
    if not within(moment):
        raise OutOfRange(f"{what} {moment.isoformat()} is outside the allowed range {ALLOWED}")
    return moment.astimezone(UTC)


def check_aware(moment: datetime) -> datetime:
    """Pydantic AfterValidator: an aware datetime inside the range, kept with its offset."""
    bounded(moment)
    return moment
