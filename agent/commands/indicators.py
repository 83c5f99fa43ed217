"""`vigia indicators`: availability per service, Ind.3, Ind.4 and coverage for a period."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from agent.commands.common import CommandError, guarded, open_catalog, open_store, print_json
from agent.indicators.compute import compute_indicators
from agent.indicators.documents import to_json
from agent.indicators.periods import Period, parse_period, period_from_range
from agent.indicators.projection import TierBudget, month_to_date
from agent.indicators.quar_config import QuarConfig, QuarConfigError, load_quar
from agent.maintenance import MaintenanceCalendar
from agent.settings import Settings

GRADES = {"superou": "Superou", "atingiu": "Atingiu", "nao_atingiu": "Não atingiu", None: "N/A"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("indicators", help="availability and QUAR figures for a period")
    parser.add_argument("--period", help="2026-10, 2026-Q4 or 2026 (installation time zone)")
    parser.add_argument("--from", dest="start", help="ISO 8601 start")
    parser.add_argument("--to", dest="end", help="ISO 8601 end")
    parser.add_argument(
        "--budget",
        action="store_true",
        help="month-to-date projection: downtime each tier can still absorb this period",
    )
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


def open_quar(settings: Settings) -> QuarConfig:
    try:
        return load_quar(settings.quar)
    except QuarConfigError as exc:
        raise CommandError(f"invalid QUAR configuration {settings.quar}:\n{exc}") from None


def handle(args: argparse.Namespace) -> int:
    period = choose_period(args)
    quar = open_quar(args.settings)
    catalog = open_catalog(args.settings)
    store = open_store(args.settings)
    try:
        calendar = MaintenanceCalendar(
            catalog, store.windows(), args.settings.allow_retroactive_maintenance
        )
        now = datetime.now(UTC)
        if args.budget:
            projection = month_to_date(store, catalog, calendar, quar, period, now)
            indicators = projection.indicators
        else:
            indicators = compute_indicators(store, catalog, calendar, period, now)
        figures = to_json(indicators, quar)
        if args.budget:
            figures["budget"] = [budget_json(t) for t in projection.tiers]
    finally:
        store.close()
    if args.json:
        print_json(figures)
    else:
        _print(figures)
    return 0


def budget_json(tier: TierBudget) -> dict[str, Any]:
    return {
        "tier": tier.tier,
        "target": tier.target,
        "services": tier.services,
        "down_seconds": tier.down_seconds,
        "projected_availability": tier.projected_availability,
        "budget_seconds": tier.budget_seconds,
    }


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
    restore = "N/A" if ind4 is None else f"{ind4:.1f} min"
    print(
        f"Ind.3 disponibilidade média: {_pct(figures['ind3']['value'])}{_graded(figures['ind3'])}"
    )
    print(f"Ind.4 tempo médio de reposição: {restore}{_graded(figures['ind4'])}")
    print(f"abrangência: {_pct(figures['coverage']['value'])}{_graded(figures['coverage'])}")
    op3 = figures["op3"]
    tr = "N/A" if op3["tr"] is None else f"{op3['tr']:.2f} %"
    missing = f" (sem resultado: {', '.join(op3['missing'])})" if op3["missing"] else ""
    print(f"{op3['name']} taxa de realização: {tr} — {GRADES[op3['grade']]}{missing}")
    for tier in figures.get("budget", []):
        left = tier["budget_seconds"]
        text = "N/A" if left is None else f"{left / 60:.1f} min"
        print(f"orçamento de indisponibilidade {tier['tier']} (meta {tier['target']:g} %): {text}")


def _graded(indicator: dict[str, Any]) -> str:
    tr = "N/A" if indicator["tr"] is None else f"{indicator['tr']:.2f} %"
    return f"  [meta {indicator['target']:g}, TR {tr}, {GRADES[indicator['grade']]}]"
