"""`vigia check [SERVICE ...]`: probe now and print the results (exit 0 only if all ok)."""

from __future__ import annotations

import argparse
import asyncio

from agent.catalog.model import Catalog, Check
from agent.commands.common import CommandError, guarded, iso, open_catalog, print_json
from checks.context import ProbeContext
from checks.result import Outcome, ProbeResult
from checks.runner import run_probe

CONCURRENCY = 32


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("check", help="probe services now and print the results")
    parser.add_argument("services", nargs="*", metavar="SERVICE_ID")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=guarded(handle))


def handle(args: argparse.Namespace) -> int:
    catalog = open_catalog(args.settings)
    checks = select(catalog, args.services)
    results = asyncio.run(probe_all(checks))
    if args.json:
        print_json([as_json(r, c) for r, c in zip(results, checks, strict=True)])
    else:
        print(table(results, checks))
    return 0 if all(r.outcome is Outcome.OK for r in results) else 1


def select(catalog: Catalog, ids: list[str]) -> list[Check]:
    unknown = [i for i in ids if i not in catalog.by_id]
    if unknown:
        raise CommandError(f"not in the catalogue: {', '.join(unknown)}")
    services = [catalog.by_id[i] for i in ids] if ids else list(catalog.monitored)
    return [check for service in services for check in service.checks]


async def probe_all(checks: list[Check]) -> list[ProbeResult]:
    ctx = ProbeContext.create()
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(check: Check) -> ProbeResult:
        async with slots:
            return await run_probe(check.id, check.kind, check.spec, check.timeout, ctx)

    try:
        return list(await asyncio.gather(*(one(c) for c in checks)))
    finally:
        await ctx.aclose()


def as_json(result: ProbeResult, check: Check) -> dict[str, object]:
    return {
        "check": result.check,
        "service": result.service,
        "kind": check.kind,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "started_at": iso(result.started_at),
        "duration_seconds": round(result.duration, 6),
        "measurements": result.measurements,
    }


def table(results: list[ProbeResult], checks: list[Check]) -> str:
    rows = [("CHECK", "KIND", "OUTCOME", "LATENCY", "REASON")]
    for result, check in zip(results, checks, strict=True):
        latency = f"{result.duration * 1000:.0f} ms"
        rows.append((result.check, check.kind, result.outcome.value, latency, result.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [_line(row, widths) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _line(row: tuple[str, ...], widths: list[int]) -> str:
    cells = "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True))
    return f"{cells}  {row[4]}"
