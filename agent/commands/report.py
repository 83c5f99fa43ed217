"""`vigia report`: the monthly SLA report and the incident review, written into a directory.

vigia report monthly --month 2026-10 --out DIR [--format html,csv,json,pdf] [--lang pt|en]
vigia report incident ID --out DIR [--lang pt|en]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from agent.commands.common import CommandError, guarded, open_catalog, open_store
from agent.commands.indicators import open_quar
from agent.indicators.periods import parse_period
from agent.maintenance import MaintenanceCalendar
from agent.progress import Progress
from agent.reports.i18n import LANGUAGES


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="monthly SLA report, incident review")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    monthly = kinds.add_parser("monthly", help="the monthly SLA report with the QUAR table")
    monthly.add_argument("--month", required=True, help="YYYY-MM (installation time zone)")
    monthly.add_argument("--out", required=True, type=Path, help="output directory")
    monthly.add_argument("--format", default="html", help="comma list of html,csv,json,pdf")
    monthly.add_argument("--lang", default="pt", choices=LANGUAGES)
    monthly.add_argument(
        "--by-location",
        action="store_true",
        help="add an appendix of probe success by probe location (reads every raw result)",
    )
    monthly.set_defaults(handler=guarded(handle_monthly))
    incident = kinds.add_parser("incident", help="the review page of one incident")
    incident.add_argument("incident_id", type=int, metavar="ID")
    incident.add_argument("--out", required=True, type=Path, help="output directory")
    incident.add_argument("--lang", default="pt", choices=LANGUAGES)
    incident.set_defaults(handler=guarded(handle_incident))


def _formats(text: str) -> list[str]:
    from agent.reports.monthly import FORMATS

    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    wrong = [f for f in chosen if f not in FORMATS]
    if wrong or not chosen:
        raise CommandError(f"--format {text!r}: choose from {', '.join(FORMATS)}")
    return chosen


def handle_monthly(args: argparse.Namespace) -> int:
    from agent.reports.monthly import build_monthly, write_monthly
    from agent.reports.pdf import PdfUnavailableError

    formats = _formats(args.format)
    settings = args.settings
    try:
        period = parse_period(args.month, settings.timezone)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    progress = Progress(f"report {period.label}", 2 + len(formats))
    progress.step(f"reading the catalogue {settings.catalog}")
    quar, catalog, store = open_quar(settings), open_catalog(settings), open_store(settings)
    progress.step(f"figures of {len(catalog.services)} services")
    try:
        calendar = MaintenanceCalendar(
            catalog, store.windows(), settings.allow_retroactive_maintenance
        )
        now = datetime.now(UTC)
        report = build_monthly(
            store, catalog, calendar, quar, period, now, settings.timezone,
            by_location=getattr(args, "by_location", False),
        )  # fmt: skip
    finally:
        store.close()
    try:
        written = write_monthly(
            report, args.out, formats, args.lang, lambda f: progress.step(f"writing {f}")
        )
    except PdfUnavailableError as exc:
        raise CommandError(str(exc)) from None
    progress.finish(f"{len(written)} files")
    for path in written:
        print(path)
    return 0


def handle_incident(args: argparse.Namespace) -> int:
    from agent.reports.incident_review import build_review, write_review
    from agent.store.errors import UnknownIncidentError

    settings = args.settings
    quar, catalog, store = open_quar(settings), open_catalog(settings), open_store(settings)
    try:
        review = build_review(
            store, catalog, quar, args.incident_id, datetime.now(UTC), settings.timezone
        )
    except UnknownIncidentError as exc:
        raise CommandError(str(exc)) from None
    finally:
        store.close()
    print(write_review(review, args.out, args.lang))
    return 0
