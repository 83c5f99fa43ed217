"""`vigia indicators`: availability per service, Ind.3, Ind.4 and coverage for a period."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from agent.commands.common import CommandError, guarded, open_catalog, open_store, print_json
from agent.indicators import compute_indicators, to_json
from agent.maintenance import MaintenanceCalendar
from agent.periods import Period, parse_period, period_from_range


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("indicators", help="availability and QUAR figures for a period")
    parser.add_argument("--period", help="2026-10, 2026-Q4 or 2026 (installation time zone)")
    parser.add_argument("--from", dest="start", help="ISO 8601 start")
    parser.add_argument("--to", dest="end", help="ISO 8601 end")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=guarded(handle))


def choose_period(args: argparse.Namespace) -> Period:
    tz = args.settings.timezone
    try:
        if args.period:
            return parse_period(args.period, tz)
        if args.start and args.end:
            return period_from_range(args.start, args.end, tz)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    raise CommandError("give --period, or both --from and --to")


def handle(args: argparse.Namespace) -> int:
    period = choose_period(args)
    catalog = open_catalog(args.settings)
    store = open_store(args.settings)
    try:
        calendar = MaintenanceCalendar(
            catalog, store.windows(), args.settings.allow_retroactive_maintenance
        )
        figures = to_json(compute_indicators(store, catalog, calendar, period, datetime.now(UTC)))
    finally:
        store.close()
    if args.json:
        print_json(figures)
    else:
        _print(figures)
    return 0


def _pct(value: Any) -> str:
    return "N/A" if value is None else f"{value:.3f} %"


def _print(figures: dict[str, Any]) -> None:
    period = figures["period"]
    print(f"period {period['label']}: {period['start']} -> {period['end']}")
    header = ("SERVICE", "AVAILABILITY", "DOWN min", "MAINT min", "UNKNOWN min")
    print(f"{header[0]:28} {header[1]:>13} {header[2]:>9} {header[3]:>9} {header[4]:>11}")
    for s in figures["services"]:
        minutes = [s[k] / 60 for k in ("down_seconds", "maintenance_seconds", "unknown_seconds")]
        print(
            f"{s['id']:28} {_pct(s['availability']):>13} {minutes[0]:>9.1f} "
            f"{minutes[1]:>9.1f} {minutes[2]:>11.1f}"
        )
    ind4 = figures["ind4"]["value"]
    print(f"Ind.3 disponibilidade média: {_pct(figures['ind3']['value'])}")
    print(f"Ind.4 tempo médio de reposição: {'N/A' if ind4 is None else f'{ind4:.1f} min'}")
    print(f"abrangência: {_pct(figures['coverage']['value'])}")
