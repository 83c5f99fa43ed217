"""The scheduled-reports component of the running agent.

Each tick asks, for every enabled kind, when its cron line last fired (at or before the
injected clock's now) and which period that firing reports on. A period without an archive row
is made now: at its scheduled time, or at the next start-up when the agent was down then. The
row is written before the e-mail is sent, so a restart never makes a period twice; a failed
e-mail is logged and tried again every MAIL_RETRY_SECONDS for MAIL_RETRY_FOR (the row's
`mailed_at` stays empty until one goes out), and the file stays downloadable meanwhile.

The loop polls (every `poll` seconds) instead of sleeping until the next firing: a wall-clock
step or a suspended machine cannot make it miss one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from agent.maintenance import CronSchedule, cron_schedule
from agent.scheduled_reports.archive import (
    Archive,
    ArchiveAlteredError,
    Archived,
    VersionTakenError,
)
from agent.scheduled_reports.config import ReportsConfig
from agent.scheduled_reports.mailing import ReportMailer
from agent.scheduled_reports.making import ReportMaker, period_before
from alerting.errors import PermanentDeliveryError, TransientDeliveryError
from checks.clock import Clock

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0
_FIRST_LOOKBACK = timedelta(hours=1)
_LONGEST_LOOKBACK = timedelta(days=800)  # a cron line firing less than every two years: never
_STEP = timedelta(seconds=1)  # cron lines fire on whole seconds
_RERUN_ATTEMPTS = 5  # versions taken by other nodes meanwhile
MAIL_RETRY_SECONDS = 900.0
MAIL_RETRY_FOR = timedelta(days=7)  # a report older than this is not e-mailed any more


class ReportScheduler:
    def __init__(
        self,
        config: ReportsConfig,
        archive: Archive,
        maker: ReportMaker,
        clock: Clock,
        timezone: str,
        mailer: ReportMailer | None = None,
        *,
        poll: float = POLL_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.archive = archive
        self.maker = maker
        self.clock = clock
        self.timezone = timezone  # the installation's: months and quarters are counted in it
        self.mailer = mailer
        self.poll = poll
        self._sleep = sleep
        zone = config.timezone or timezone  # the cron lines' own, when given
        self._triggers = {k: cron_schedule(config.cron(k), zone) for k in config.kinds()}
        self.failures = 0  # reports or e-mails that failed, for the logs and the tests
        self._mail_tried: dict[int, float] = {}  # archive id -> monotonic time of the last try
        self._last_error = ""  # logged once while it repeats (the PDF extra missing, say)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._triggers)

    # ---- when -------------------------------------------------------------------------------

    def last_firing(self, kind: str, now: datetime) -> datetime | None:
        """The latest firing of `kind`'s cron line at or before `now`."""
        trigger = self._triggers[kind]
        lookback = _FIRST_LOOKBACK
        while lookback <= _LONGEST_LOOKBACK:  # widen until a firing falls in the window
            fired = _next(trigger, now - lookback)
            if fired is not None and fired <= now:
                break
            lookback *= 2
        else:
            return None
        while (later := _next(trigger, fired + _STEP)) is not None and later <= now:
            fired = later
        return fired

    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(kind, period) of the latest firing of each kind."""
        out = []
        for kind in self._triggers:
            fired = self.last_firing(kind, now)
            if fired is not None:
                out.append((kind, period_before(kind, fired, self.timezone)))
        return out

    # ---- making -----------------------------------------------------------------------------

    async def tick(self) -> list[Archived]:
        """Make every due period that has no archived report yet, and retry the e-mails that
        failed; returns what was made."""
        await self._retry_mail()
        made = []
        for kind, period in self.due(self.clock.now()):
            if await asyncio.to_thread(self.archive.versions, kind, period):
                continue
            try:
                archived = await self._make(kind, period, 1)
            except VersionTakenError:  # another node made it meanwhile
                continue
            made.append(archived)
        return made

    async def rerun(self, kind: str, period: str) -> Archived:
        """A new version of a period's report, beside the earlier ones."""
        for _ in range(_RERUN_ATTEMPTS):
            version = await asyncio.to_thread(self.archive.next_version, kind, period)
            try:
                return await self._make(kind, period, version)
            except VersionTakenError:
                continue
        raise VersionTakenError(f"{kind} {period}: no free version after {_RERUN_ATTEMPTS} tries")

    async def _make(self, kind: str, period: str, version: int) -> Archived:
        now = self.clock.now()
        content = await asyncio.to_thread(self.maker.content, kind, period, version, now)
        suffix = self.maker.format
        archived = await asyncio.to_thread(
            self.archive.add, kind, period, version, suffix, content, now
        )
        log.info("%s report %s version %d archived: %s", kind, period, version, archived.path)
        await self._mail(archived, content)
        return archived

    async def _mail(self, archived: Archived, content: bytes) -> None:
        if self.mailer is None:
            return
        self._mail_tried[archived.id] = self.clock.monotonic()
        try:
            await self.mailer.send(archived, content)
        except (TransientDeliveryError, PermanentDeliveryError) as exc:
            self.failures += 1
            log.error(
                "%s report %s version %d not e-mailed (tried again in %.0f s): %s",
                archived.kind, archived.period, archived.version, MAIL_RETRY_SECONDS, exc,
            )  # fmt: skip
            return
        await asyncio.to_thread(self.archive.mark_mailed, archived.id, self.clock.now())

    async def _retry_mail(self) -> None:
        if self.mailer is None:
            return
        since = self.clock.now() - MAIL_RETRY_FOR
        for archived in await asyncio.to_thread(self.archive.unmailed, since):
            tried = self._mail_tried.get(archived.id)
            if tried is not None and self.clock.monotonic() - tried < MAIL_RETRY_SECONDS:
                continue
            try:
                found = await asyncio.to_thread(self.archive.read, archived.id)
            except ArchiveAlteredError as exc:
                self._mail_tried[archived.id] = self.clock.monotonic()
                log.error("report %d not e-mailed: %s", archived.id, exc)
                continue
            if found is not None:
                await self._mail(*found)

    # ---- the component ----------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled (the agent's shutdown): a tick, then `poll` seconds of sleep."""
        while True:
            try:
                await self.tick()
                self._last_error = ""
            except Exception as exc:  # the database away, the PDF extra missing: next tick
                self.failures += 1
                if str(exc) != self._last_error:  # not every 30 s while it lasts
                    log.exception(
                        "scheduled reports: a tick failed (retried every %.0f s)", self.poll
                    )
                self._last_error = str(exc)
            await self._sleep(self.poll)


def _next(schedule: CronSchedule, after: datetime) -> datetime | None:
    """The first firing at or after `after`."""
    return next(schedule.after(after - timedelta(microseconds=1)), None)
