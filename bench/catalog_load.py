"""Catalogue load benchmark: how long `agent.catalog.loader.load` takes for N services.

    python bench/catalog_load.py [--services 10000 50000] [--repeats 3] [--cli] [--profile]

The generated catalogue looks like the institute's, only longer: four tiers with their own
timing, services of every macro service with depends_on, maintenance cron windows in several
time zones, labels, public names, and 2-4 checks each of different kinds (http with
expect_status lists, body rules, JSON paths and `${ENV}` bearer headers; tls; tcp with a
dialogue; dns; icmp), plus a few YAML anchors, aliases and merge keys as people write them.

Printed per size, in CPU seconds of the process (the machine is shared: wall time says more
about the neighbours than about the code): the phases of `load_text` timed separately (YAML
parse with line marks and secret resolution, schema validation, cross-references, model
building), the whole `load_text` and `load` (median of --repeats), and with --cli the CPU
and wall time of
`vigia catalog validate F` and `vigia check --catalog F <one service>` as subprocesses (the
probed service points at a closed loopback port: no traffic leaves the machine). --profile
writes a cProfile of one `load` of the largest size and prints its top functions.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = os.environ.get("VIGIA_BENCH_CODE", str(ROOT))  # another tree's code: the "before"
sys.path.insert(0, CODE)

from agent.catalog import loader  # noqa: E402
from agent.catalog.errors import CatalogError  # noqa: E402
from agent.catalog.locations import check_locations  # noqa: E402
from agent.catalog.references import check_references  # noqa: E402
from agent.catalog.resolution import resolve  # noqa: E402
from checks.yamlsource import parse  # noqa: E402

ENVIRON = {"API_TOKEN": "s3cr3t-token", "LDAP_PASSWORD": "pw-ldap", "DB_PASS": "pw-db"}
MACROS = (
    "suporte-tecnico",
    "comunicacoes",
    "infraestrutura-postos-trabalho",
    "desenvolvimento-aplicacoes",
    "formacao",
    "gestao-informacao",
)
TIERS = ("platina", "ouro", "prata", "bronze")
ZONES = ("Europe/Lisbon", "Atlantic/Azores", "Atlantic/Madeira", "UTC")
CRONS = ("0 2 * * 0", "30 1 * * 1-5", "0 3 1 * *", "15 4 * * sat,sun", "0 22 * * fri")

HEADER = """\
version: 1
defaults: {interval: 60s, timeout: 10s, confirm_down: 3, confirm_up: 2}
tiers:
  platina: {interval: 30s, severity: critical, confirm_down: 2}
  ouro: {interval: 60s, severity: major}
  prata: {interval: 120s, severity: minor}
  bronze: {interval: 300s, severity: warning, merge_within: 10m}
services:
"""

# The first service defines the anchors the others alias (as a hand-written catalogue does).
FIRST = """\
  - id: svc-00000
    name: Serviço 0 (sonda local)
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    owner: DAD
    labels: &common_labels {team: dad, env: producao, site: lisboa}
    maintenance:
      - &weekly {cron: "0 2 * * 0", duration: 2h, timezone: Europe/Lisbon, reason: janela semanal}
    checks:
      - http: &http_common
          url: http://127.0.0.1:9/health
          expect_status: [200, 204]
          max_latency: 2s
          headers: {Authorization: "Bearer ${API_TOKEN}"}
      - {timeout: 2s, tcp: {host: 127.0.0.1, port: 9}}
"""


def service_yaml(i: int) -> str:
    """Service i: its kind mix, tier, windows and labels vary with i."""
    sid = f"svc-{i:05d}"
    host = f"app{i % 2000}.seg-social.invalid"
    tier = TIERS[i % 4]
    lines = [
        f"  - id: {sid}",
        f"    name: Serviço {i} — {MACROS[i % 6].replace('-', ' ')}",
        f"    macro_service: {MACROS[i % 6]}",
        f"    tier: {tier}",
        f"    pcn: {'true' if i % 7 == 0 else 'false'}",
        f"    owner: DSI-{i % 13}",
    ]
    if i % 5 == 0 and i >= 10:
        lines.append(f"    depends_on: [svc-{i - 10:05d}, svc-{i - 5:05d}]")
    if i % 3 == 0:
        lines.append("    labels: *common_labels")
    else:
        lines.append(f"    labels: {{team: t{i % 17}, env: producao, rack: r{i % 40}}}")
    if i % 4 == 0:
        lines.append("    maintenance: [*weekly]")
    elif i % 4 == 1:
        cron, zone = CRONS[i % len(CRONS)], ZONES[i % len(ZONES)]
        lines += [
            "    maintenance:",
            f'      - {{cron: "{cron}", duration: 90m, timezone: {zone}, reason: backup}}',
        ]
    if i % 11 == 0:
        lines += ["    public: true", f"    public_name: Portal {i}"]
    lines.append("    checks:")
    lines += _checks(i, host)
    return "\n".join(lines) + "\n"


def _checks(i: int, host: str) -> list[str]:
    checks = [
        "      - http:",
        f"          url: https://{host}/svc/{i}/health",
        "          expect_status: [200, 201, 204, 301, 302]",
        "          body_contains: Segurança Social",
        '          body_regex: "versao [0-9]+\\\\.[0-9]+"',
        '          json: {"$.status": "UP"}',
        '          headers: {Authorization: "Bearer ${API_TOKEN}", Accept: application/json}',
        "          max_latency: 2s",
        f"      - tls: {{host: {host}, port: 443, min_days: 21}}",
    ]
    if i % 2 == 0:
        checks += [
            "      - name: pagina",
            "        impact: degraded",
            "        http: {<<: *http_common, url: " + f'"https://{host}/svc/{i}/"' + "}",
        ]
    if i % 3 == 0:
        checks += [
            "      - tcp:",
            f"          host: ldap{i % 50}.seg-social.invalid",
            "          port: 389",
            "          steps:",
            '            - {expect: "^220 ", send: "hello\\r\\n"}',
            '            - {expect: "^OK (\\\\w+)", send: "auth ${1} ${LDAP_PASSWORD}\\r\\n"}',
            '            - {expect: "^READY"}',
        ]
    if i % 4 == 0:
        checks += [
            f"      - dns: {{name: {host}, type: A, resolver: 10.0.{i % 250}.53,"
            ' answer_regex: "^10\\\\."}',
        ]
    if i % 9 == 0:
        checks += [f"      - icmp: {{host: {host}, count: 3, max_rtt: 200ms}}"]
    return checks


def catalogue(services: int) -> str:
    return HEADER + FIRST + "".join(service_yaml(i) for i in range(1, services))


# --- timing --------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of `fn` (on a shared machine, wall time mostly measures the neighbours)."""
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def phases(text: str) -> dict[str, float]:
    """The steps `load_text` takes, each timed on its own (same order, same inputs, with the
    cyclic GC paused as `load_text` does)."""
    with getattr(loader, "_gc_paused", contextlib.nullcontext)():  # before: no pause
        return _phases(text)


def _phases(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    out["parse (YAML + lines + secrets)"], source = timed(lambda: parse(text, "bench", ENVIRON))
    assert not source.problems, source.problems[:3]
    out["validate (schema)"], raw = timed(lambda: loader._validate(source))
    assert raw is not None and not source.problems, source.problems[:3]

    def references() -> None:
        check_references(source)
        check_locations(source, raw, loader._known_locations(None))

    out["cross-references"], _ = timed(references)
    assert not source.problems, source.problems[:3]
    out["build (resolve model)"], _ = timed(
        lambda: resolve(raw, None, loader._known_locations(None), ENVIRON)
    )
    return out


def load_file(path: Path) -> int:
    try:
        return len(loader.load(path, environ=ENVIRON).services)
    except CatalogError as exc:
        raise SystemExit(f"the generated catalogue is invalid:\n{str(exc)[:2000]}") from None


def cli_times(path: Path, only_validate: bool) -> dict[str, float]:
    env = {**os.environ, **ENVIRON, "PYTHONPATH": CODE}
    cli = ["-m", "agent.cli"]
    commands = {
        "imports alone (python -c 'import agent.cli')": ["-c", "import agent.cli"],
        "vigia catalog validate F": [*cli, "catalog", "validate", str(path)],
        "vigia check --catalog F svc-00000": [*cli, "check", "--catalog", str(path), "svc-00000"],
    }
    if only_validate:
        del commands["vigia check --catalog F svc-00000"]
    out: dict[str, float] = {}
    for label, argv in commands.items():
        before = os.times()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *argv],
            env=env,
            cwd=CODE,  # `-m` puts the working directory first on sys.path
            capture_output=True,
            text=True,
        )
        wall, after = time.perf_counter() - start, os.times()
        cpu = after.children_user + after.children_system
        cpu -= before.children_user + before.children_system
        out[f"{label} (CPU)"], out[f"{label} (wall)"] = cpu, wall
        if done.returncode not in (0, 1):  # check: 1 = the probe failed, as it should here
            raise SystemExit(f"{label} exited {done.returncode}: {done.stderr[-2000:]}")
    return out


def profile(path: Path, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(load_file, path)
    out = ROOT / "bench" / "catalog_load.prof"
    profiler.dump_stats(out)
    print(f"\ncProfile of one load ({out}), by cumulative then own time:")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def run(services: int, args: argparse.Namespace, workdir: Path) -> None:
    text = catalogue(services)
    path = workdir / f"services-{services}.yaml"
    path.write_text(text, encoding="utf-8")
    checks = sum(  # the items of each `checks:` list, not of `maintenance:`
        1 for line in text.splitlines() if line.startswith("      - ") and "cron" not in line
    )
    print(f"\n## {services:,} services ({checks:,} checks), {len(text) / 1e6:.1f} MB", flush=True)
    if not args.cli_only:
        in_process(text, path, args.repeats)
    if args.cli or args.cli_only:
        for label, seconds in cli_times(path, args.cli_only).items():
            print(f"  {label:<50} {seconds:8.2f} s", flush=True)


def in_process(text: str, path: Path, repeats: int) -> None:
    for name, seconds in phases(text).items():
        print(f"  {name:<40} {seconds:8.2f} s")
    whole = [timed(lambda: loader.load_text(text, "bench", ENVIRON))[0] for _ in range(repeats)]
    files = [timed(lambda: load_file(path))[0] for _ in range(repeats)]
    print(f"  {'load_text (median of ' + str(repeats) + ')':<40} {statistics.median(whole):8.2f} s")
    print(f"  {'load (median of ' + str(repeats) + ')':<40} {statistics.median(files):8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cli", action="store_true", help="also time the vigia commands")
    parser.add_argument(
        "--cli-only", action="store_true", help="only `vigia catalog validate` (slow old code)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the largest load")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus,"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory(prefix="catalog-load-") as tmp:
        for services in args.services:
            run(services, args, Path(tmp))
        if args.profile:
            profile(Path(tmp) / f"services-{max(args.services)}.yaml", args.top)


if __name__ == "__main__":
    main()
