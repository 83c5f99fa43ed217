"""Building the scheduled-reports component from the settings, for `agent.runtime`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from agent.catalog.model import Catalog
from agent.indicators.quar_config import QuarConfig
from agent.maintenance import MaintenanceCalendar
from agent.scheduled_reports.archive import Archive
from agent.scheduled_reports.config import ReportsConfig
from agent.scheduled_reports.mailing import ReportMailer
from agent.scheduled_reports.making import ReportMaker
from agent.scheduled_reports.scheduler import ReportScheduler
from agent.store.sql import SqlStore
from agent.store.url import data_dir
from checks.clock import Clock


def archive_directory(
    config: ReportsConfig, store: SqlStore, environ: Mapping[str, str] | None = None
) -> Path:
    """`reports.directory`; else `reports/` in the state directory: systemd's
    $STATE_DIRECTORY, the SQLite file's folder, or the user's data folder."""
    if config.directory:
        return Path(config.directory).expanduser()
    env = os.environ if environ is None else environ
    if state := env.get("STATE_DIRECTORY", "").split(":")[0]:
        return Path(state) / "reports"
    database = store.database_file
    return (database.parent if database else data_dir(env)) / "reports"


def build_scheduler(
    config: ReportsConfig,
    store: SqlStore,
    clock: Clock,
    timezone: str,
    catalog: Callable[[], Catalog],
    calendar: Callable[[], MaintenanceCalendar],
    quar: Callable[[], QuarConfig],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ReportScheduler:
    """`timezone`: the installation's (the settings'), in which periods are counted."""
    maker = ReportMaker(store, catalog, calendar, quar, timezone, config.lang, config.format)
    mailer = None
    if config.email is not None:
        mailer = ReportMailer(config.email, config.lang, timezone, clock.now)
    archive = Archive(store, archive_directory(config, store))
    return ReportScheduler(config, archive, maker, clock, timezone, mailer, sleep=sleep)
