"""Side by side with the exporter stack: blackbox_exporter + Prometheus, then `vigia run`.

    python bench/peer_stack.py [--variant NAME | --origins N --idle-close S --tls]
                               [--services 2000] [--interval 30] [--duration 90]
                               [--sides blackbox,vigia,vigia-reuse] [--json FILE]

One loopback estate (bench/estate_server.py) serves every side, one side after the other in the
same run; service i is `<origin i mod N>/svc/i` as in bench/scale.py. The estate can close a
connection after it has been idle `--idle-close` seconds (5 s is a common server default;
50 ms leaves nothing to reuse) and can serve TLS 1.3 with one certificate per origin, issued in
the run by a private CA (`cryptography`) that every side is told to trust. It counts accepted
connections and answered requests, so "new connections per probe" is measured at the server,
the same way for every side.

The sides:

- `blackbox`: Debian's `prometheus-blackbox-exporter` (module `http_2xx`, 10 s timeout, the
  CA in `tls_config`) and a `prometheus` scraping every service through it
  (`/probe?target=URL&module=http_2xx`, file_sd targets, scrape_interval = `--interval`,
  TSDB in a temp dir). Skipped, with the reason, when either binary is missing.
- `vigia`: `vigia run` (bench/scale.py's run_agent: a generated catalogue, a fresh SQLite db,
  /metrics scraped every `--scrape-every` s) with a new connection per probe, the default.
- `vigia-reuse`: the same with `reuse_connection: true`.

Measured over `--duration` s after a warm-up of one interval (start-up, first scrapes):
CPU (utime + stime from /proc/<pid>/stat) of the exporter, of Prometheus and of the whole
agent (threads and children included); probes done (exporter: requests the estate answered in
the window, and Prometheus' probe_success samples; vigia: probe_results rows started in the
window); CPU per probe; peak RSS (VmHWM, read before SIGTERM); false failures on an estate
that is always up (probe_success == 0 samples plus failed scrapes; vigia: non-ok results);
new connections per probe (estate). The ratios vigia / blackbox alone and vigia / blackbox +
Prometheus are printed after the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from bench import estate_server, scale  # noqa: E402

EXPORTER, PROMETHEUS = "prometheus-blackbox-exporter", "prometheus"
SIDES = ("blackbox", "vigia", "vigia-reuse")
# issue #18's table: (origins, idle close s, TLS)
VARIANTS: dict[str, tuple[int, float | None, bool]] = {
    "keepalive": (20, None, False),
    "idle5s": (2000, 5.0, False),
    "keepalive-tls": (20, None, True),
    "idle5s-tls": (2000, 5.0, True),
    "idle50ms-tls": (2000, 0.05, True),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- a private CA and one certificate per origin ---------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_pki(work: Path, addresses: list[str]) -> tuple[Path, tuple[tuple[str, str], ...]]:
    """(CA file, (cert, key) per address): EC P-256, one shared server key, IP SANs."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("vigia bench CA"))
        .issuer_name(_name("vigia bench CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = work / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    key = ec.generate_private_key(ec.SECP256R1())
    key_file = work / "server-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    pairs = []
    for i, addr in enumerate(addresses):
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(addr))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(addr))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(aki, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_file = work / f"server-{i}.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pairs.append((str(cert_file), str(key_file)))
    return ca_file, tuple(pairs)


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- reading processes and the estate from outside -------------------------------------------


def proc_cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of `pid`, seconds (threads included)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # the name may hold spaces: split after it
    return sum(int(f) for f in fields[11:15]) / CLK_TCK


class Sampler(threading.Thread):
    """The estate's counters every 0.1 s, so any side's window can be read afterwards."""

    def __init__(self, shared: Any) -> None:
        super().__init__(daemon=True, name="estate-sampler")
        self.shared = shared
        self.samples: list[tuple[float, int, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            connections = self.shared[estate_server.CONNECTIONS]
            requests = self.shared[estate_server.REQUESTS]
            self.samples.append((time.time(), connections, requests))

    def at(self, moment: float) -> tuple[int, int]:
        """(connections, requests) counted at the sample nearest `moment`."""
        _, connections, requests = min(self.samples, key=lambda s: abs(s[0] - moment))
        return connections, requests

    def between(self, t0: float, t1: float) -> tuple[int, int]:
        (c0, r0), (c1, r1) = self.at(t0), self.at(t1)
        return c1 - c0, r1 - r0


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def _wait_http(url: str, process: subprocess.Popen[bytes], what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode} before it was ready")
        try:
            _get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{what} not ready after {limit:g} s ({url})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- side 1: blackbox_exporter + Prometheus ---------------------------------------------------


def blackbox_config(ca_file: Path | None) -> str:
    tls = f"\n      tls_config: {{ca_file: {json.dumps(str(ca_file))}}}" if ca_file else ""
    return (
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 10s\n    http:\n"
        f"      preferred_ip_protocol: ip4{tls}\n"
    )


def prometheus_config(targets_file: Path, exporter: str, interval: float) -> str:
    return f"""global:
  scrape_interval: {interval:g}s
  scrape_timeout: {min(10.0, interval):g}s
  evaluation_interval: 1m
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {{module: [http_2xx]}}
    file_sd_configs: [{{files: [{json.dumps(str(targets_file))}]}}]
    relabel_configs:
      - {{source_labels: [__address__], target_label: __param_target}}
      - {{source_labels: [__param_target], target_label: instance}}
      - {{target_label: __address__, replacement: "{exporter}"}}
"""


def prom_query(port: int, expr: str, moment: float) -> float:
    query = urllib.parse.urlencode({"query": expr, "time": f"{moment:.3f}"})
    answer = json.loads(_get(f"http://127.0.0.1:{port}/api/v1/query?{query}", timeout=60))
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def run_blackbox(
    work: Path, urls: list[str], ca_file: Path | None, args: argparse.Namespace, sampler: Sampler
) -> dict[str, Any]:
    missing = [name for name in (EXPORTER, PROMETHEUS) if shutil.which(name) is None]
    if missing:
        return {"skipped": f"{', '.join(missing)} not installed (apt: {EXPORTER} prometheus)"}
    side = work / "blackbox"
    side.mkdir()
    (side / "blackbox.yml").write_text(blackbox_config(ca_file))
    (side / "targets.json").write_text(json.dumps([{"targets": urls}]))
    exporter_port, prom_port = scale.free_port(), scale.free_port()
    exporter_addr = f"127.0.0.1:{exporter_port}"
    prom_yml = prometheus_config(side / "targets.json", exporter_addr, args.interval)
    (side / "prometheus.yml").write_text(prom_yml)
    exporter_cmd = [EXPORTER, f"--config.file={side / 'blackbox.yml'}"]
    exporter_cmd += [f"--web.listen-address={exporter_addr}", "--log.level=warn"]
    prom_cmd = [PROMETHEUS, f"--config.file={side / 'prometheus.yml'}"]
    prom_cmd += [f"--storage.tsdb.path={side / 'tsdb'}", "--log.level=warn"]
    prom_cmd += [f"--web.listen-address=127.0.0.1:{prom_port}"]
    logs = [(side / "exporter.log").open("wb"), (side / "prometheus.log").open("wb")]
    exporter = subprocess.Popen(exporter_cmd, stdout=logs[0], stderr=subprocess.STDOUT)
    prom: subprocess.Popen[bytes] | None = None
    try:
        _wait_http(f"http://{exporter_addr}/metrics", exporter, EXPORTER)
        prom = subprocess.Popen(prom_cmd, stdout=logs[1], stderr=subprocess.STDOUT)
        _wait_http(f"http://127.0.0.1:{prom_port}/-/ready", prom, PROMETHEUS)
        ready = time.time()
        print(f"blackbox: exporter pid {exporter.pid}, prometheus pid {prom.pid}", flush=True)
        _sleep_until(ready + args.interval)  # warm-up: every target's first scrape
        t0 = time.time()
        cpu0 = proc_cpu(exporter.pid), proc_cpu(prom.pid)
        _sleep_until(t0 + args.duration)
        cpu1 = proc_cpu(exporter.pid), proc_cpu(prom.pid)
        t1 = time.time()
        peaks = scale.peak_rss_mb(exporter.pid), scale.peak_rss_mb(prom.pid)
        # every scrape started by t1 is stored once it ends (at most the scrape timeout later)
        _sleep_until(t1 + min(10.0, args.interval) + 1.0)
        window = f"{round((t1 - t0) * 1000)}ms"
        figures: dict[str, Any] = {
            "ready": ready,
            "t0": t0,
            "t1": t1,
            "exporter_cpu_s": cpu1[0] - cpu0[0],
            "prometheus_cpu_s": cpu1[1] - cpu0[1],
            "exporter_peak_rss_mb": peaks[0],
            "prometheus_peak_rss_mb": peaks[1],
            "samples": prom_query(prom_port, f"sum(count_over_time(probe_success[{window}]))", t1),
            "successes": prom_query(prom_port, f"sum(sum_over_time(probe_success[{window}]))", t1),
            "scrapes": prom_query(prom_port, f"sum(count_over_time(up[{window}]))", t1),
            "scrapes_up": prom_query(prom_port, f"sum(sum_over_time(up[{window}]))", t1),
        }
    finally:
        for process in (prom, exporter):
            if process is not None:
                _stop(process)
        for log in logs:
            log.close()
    connections, requests = sampler.between(t0, t1)
    failed_scrapes = figures["scrapes"] - figures["scrapes_up"]
    figures.update(
        probes=requests,
        requests=requests,
        connections=connections,
        false_failures=int(figures["samples"] - figures["successes"] + failed_scrapes),
    )
    return figures


def _sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(1.0, left))


# --- sides 2 and 3: vigia run ----------------------------------------------------------------


def run_vigia(
    work: Path,
    urls: list[str],
    ca_file: Path | None,
    reuse: bool,
    args: argparse.Namespace,
    sampler: Sampler,
) -> dict[str, Any]:
    side = work / ("vigia-reuse" if reuse else "vigia")
    side.mkdir()
    options = f"ca_bundle: {json.dumps(str(ca_file))}, " if ca_file else ""
    options += "reuse_connection: true, " if reuse else ""
    catalog = side / "services.yaml"
    catalog.write_text(scale.catalogue_yaml(urls, args.interval, options))
    measured = scale.run_agent(side, catalog, args)
    t0, t1 = measured["cpu_t0"], measured["cpu_t1"]
    outcomes, modes, reasons = _results(side / "vigia.db", t0, t1)
    connections, requests = sampler.between(t0, t1)
    return {
        "t0": t0,
        "t1": t1,
        "cpu_s": measured["cpu_s"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "probes": measured["db"]["probes_in_window"],
        "requests": requests,
        "connections": connections,
        "outcomes": outcomes,
        "connection_measurement": modes,
        "false_failures": sum(n for outcome, n in outcomes.items() if outcome != "ok"),
        "failure_reasons": reasons,
        "lateness_p99": measured["db"]["lateness_p99"],
        "skipped_ticks": measured["db"]["skipped_ticks"],
        "startup_s": measured["startup_s"],
        "machine_busy_cores": measured["machine_busy_cores"],
    }


def _results(
    db: Path, t0: float, t1: float
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Outcomes, the `connection` measurement (new/reused/retried) and the commonest reasons
    of the non-ok ones, of the results started in [t0, t1)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT outcome, json_extract(measurements, '$.connection'), reason FROM probe_results"
        " WHERE started_at >= ? AND started_at < ?",
        (round(t0 * 1_000_000), round(t1 * 1_000_000)),
    ).fetchall()
    conn.close()
    reasons = Counter(str(r)[:120] for o, _, r in rows if o != "ok")
    return (
        dict(Counter(o for o, _, _ in rows)),
        dict(Counter(str(m) for _, m, _ in rows)),
        dict(reasons.most_common(5)),
    )


# --- report ----------------------------------------------------------------------------------


def _ms(cpu_s: float, probes: int) -> float:
    return cpu_s / probes * 1000 if probes else float("nan")


def table(sides: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    expected = args.services * args.duration / args.interval
    lines = [
        f"expected probes per side in the window: {expected:.0f}"
        f" ({args.services} services x {args.duration:g} s / {args.interval:g} s)",
        "",
        "| side | probes | CPU s | ms CPU/probe | peak RSS MB | false failures"
        " | new connections/probe |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, got in sides.items():
        if "skipped" in got:
            lines.append(f"| {name} | skipped: {got['skipped']} | | | | | |")
            continue
        conn = got["connections"] / got["requests"] if got.get("requests") else float("nan")
        if name == "blackbox":
            probes, exp, prom = got["probes"], got["exporter_cpu_s"], got["prometheus_cpu_s"]
            samples = f"{probes} ({got['samples']:.0f} probe_success samples)"
            lines.append(
                f"| blackbox_exporter alone | {samples} | {exp:.2f} | {_ms(exp, probes):.3f}"
                f" | {got['exporter_peak_rss_mb']:.0f} | {got['false_failures']} | {conn:.2f} |"
            )
            lines.append(
                f"| blackbox + Prometheus | {probes} | {exp + prom:.2f}"
                f" | {_ms(exp + prom, probes):.3f}"
                f" | {got['exporter_peak_rss_mb'] + got['prometheus_peak_rss_mb']:.0f}"
                f" | {got['false_failures']} | {conn:.2f} |"
            )
        else:
            lines.append(
                f"| {name} | {got['probes']} | {got['cpu_s']:.2f}"
                f" | {_ms(got['cpu_s'], got['probes']):.3f} | {got['peak_rss_mb']:.0f}"
                f" | {got['false_failures']} {got['outcomes']} | {conn:.2f} |"
            )
    reasons = [
        f"- {name}'s non-ok results: {got['failure_reasons']}"
        for name, got in sides.items()
        if got.get("failure_reasons")
    ]
    return "\n".join([*lines, "", *ratios(sides), *reasons])


def ratios(sides: dict[str, dict[str, Any]]) -> list[str]:
    box = sides.get("blackbox", {})
    if not box or "skipped" in box:
        return ["ratios: no blackbox side to compare with"]
    alone = _ms(box["exporter_cpu_s"], box["probes"])
    stack = _ms(box["exporter_cpu_s"] + box["prometheus_cpu_s"], box["probes"])
    lines = []
    for name in ("vigia", "vigia-reuse"):
        if name in sides:
            ours = _ms(sides[name]["cpu_s"], sides[name]["probes"])
            lines.append(
                f"- {name}: **{ours / alone:.2f}x** blackbox alone,"
                f" **{ours / stack:.2f}x** blackbox + Prometheus"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="issue #18's estates")
    parser.add_argument("--origins", type=int, default=20, help="loopback origins")
    parser.add_argument("--idle-close", type=float, help="origins close connections idle S s")
    parser.add_argument("--tls", action="store_true", help="TLS 1.3, certificates of a private CA")
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=90.0, help="measured window per side")
    parser.add_argument("--sides", default=",".join(SIDES), help=f"any of {','.join(SIDES)}")
    parser.add_argument("--scrape-every", type=float, default=30.0, help="vigia's /metrics")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--keep", help="work in this directory and keep it")
    args = parser.parse_args()
    if args.variant:
        args.origins, args.idle_close, args.tls = VARIANTS[args.variant]
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if unknown := set(sides) - set(SIDES):
        parser.error(f"--sides: unknown {sorted(unknown)}; known {', '.join(SIDES)}")
    print(json.dumps({**scale.machine(), "load1": os.getloadavg(), "args": vars(args)}), flush=True)
    with tempfile.TemporaryDirectory(prefix="vigia-peer-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        figures = _run(work, sides, args)
    print(table(figures, args))
    if args.json:
        out = {"machine": scale.machine(), "args": vars(args), "sides": figures}
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))


def _run(work: Path, sides: list[str], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    socks = estate_server.origins(args.origins)
    addresses = [sock.getsockname()[0] for sock in socks]
    ca_file, certs = make_pki(work, addresses) if args.tls else (None, ())
    options = estate_server.Options(idle_close=args.idle_close, tls=certs)
    shared = estate_server.counters()
    estate = estate_server.start(socks, options, shared)
    sampler = Sampler(shared)
    sampler.start()
    scheme = "https" if args.tls else "http"
    urls = scale.service_urls(estate_server.base_urls(socks, scheme), args.services)
    figures: dict[str, dict[str, Any]] = {}
    try:
        for side in sides:
            load = os.getloadavg()
            print(f"--- {side} (load average before: {load})", flush=True)
            if side == "blackbox":
                got = run_blackbox(work, urls, ca_file, args, sampler)
            else:
                got = run_vigia(work, urls, ca_file, side == "vigia-reuse", args, sampler)
            got["load_before"] = load
            figures[side] = got
            print(json.dumps(got, default=str), flush=True)
    finally:
        sampler.stopped.set()
        estate.terminate()
        estate.join()
    return figures


if __name__ == "__main__":
    main()
