"""Nagios plugin checks: run a monitoring-plugins style executable and read its verdict.

Contract (Nagios plugin development guidelines): exit 0/1/2/3 = OK/WARNING/CRITICAL/UNKNOWN;
first output line `TEXT | perfdata`, further lines long text, whose first `|` starts more
perfdata. The plugin runs as an argv (never through a shell), in its own process group so a
timeout kills whatever it spawned too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import secrets
import signal

import psutil

from checks.context import ProbeContext
from checks.result import Measurement, Outcome, Verdict
from checks.specs import NagiosSpec

log = logging.getLogger(__name__)

OUTPUT_CAP = 64 * 1024  # bytes kept per stream; the rest is drained and dropped
_REAP_SECONDS = 1.0
_DRAIN_SECONDS = 0.2  # after the plugin exits, how long its output may still be arriving
RUN_MARK = "VIGIA_PLUGIN_RUN"  # environment variable set on every plugin run
_TEXT_CAP = 500  # characters of plugin text kept in reason and `output`
# LANG=C keeps plugin output parseable: localised plugins write "0,5s" and translated text.
_BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
_EXIT = {0: Outcome.OK, 1: Outcome.DEGRADED, 2: Outcome.FAIL, 3: Outcome.UNKNOWN}

# At a token start: 'quoted label' (a quote inside doubled) or bare label, '=', the value field.
_PERF_ITEM = re.compile(r"(?<!\S)(?:'((?:[^']|'')+)'|([^\s='][^\s=]*))=(\S*)")
_PERF_VALUE = re.compile(r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([a-zA-Z%]*)")
# Byte units are binary, as monitoring-plugins' check_disk and check_swap compute them.
_UNIT_FACTORS = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "%": 1.0,
    "b": 1.0,
    "kb": 1024.0,
    "mb": 1024.0**2,
    "gb": 1024.0**3,
    "tb": 1024.0**4,
}


async def probe(spec: NagiosSpec, timeout: float, ctx: ProbeContext, *, check_id: str) -> Verdict:
    run_mark = secrets.token_hex(8)  # finds what the plugin spawned, even outside its group
    stdout, stderr = _Pipe(), _Pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            *spec.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout.write_end,
            stderr=stderr.write_end,
            env=_BASE_ENV | spec.env | {RUN_MARK: run_mark},
            start_new_session=True,  # own process group: killpg reaches its children
        )
    except OSError as exc:
        stdout.close()
        stderr.close()
        return _not_started(spec, exc)
    try:
        return await _run(process, stdout, stderr, timeout)
    finally:
        await _kill_group(process)
        if not (stdout.done and stderr.done):  # something the plugin spawned holds its pipes
            _kill_marked(run_mark)
        stdout.close()
        stderr.close()


def _not_started(spec: NagiosSpec, exc: OSError) -> Verdict:
    if isinstance(exc, FileNotFoundError):
        return Verdict.unknown(f"plugin not found: {spec.command[0]}")
    if isinstance(exc, PermissionError):
        return Verdict.unknown(f"plugin not executable: {spec.command[0]}")
    return Verdict.unknown(f"plugin could not start: {spec.command[0]}: {exc}")


async def _run(
    process: asyncio.subprocess.Process, stdout: _Pipe, stderr: _Pipe, timeout: float
) -> Verdict:
    stdout.start()
    stderr.start()
    try:
        async with asyncio.timeout(timeout):
            code = await process.wait()  # the plugin itself, not the pipes' other holders
    except TimeoutError:
        return Verdict.fail(f"plugin killed after {timeout:g}s")
    # What the plugin wrote is in the pipes; a child it left behind may keep them open, so
    # the rest is read for a short while only, never until that child ends.
    await asyncio.wait([stdout.eof, stderr.eof], timeout=_DRAIN_SECONDS)
    return judge(code, stdout.text(), stderr.text())


class _Pipe:
    """One output stream of a plugin, read on the loop without waiting for every writer."""

    def __init__(self) -> None:
        self._read_end, self.write_end = os.pipe()
        os.set_blocking(self._read_end, False)
        self._kept = bytearray()
        self.eof: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watching = False

    def start(self) -> None:
        os.close(self.write_end)  # the plugin has its own copy
        self.write_end = -1
        asyncio.get_running_loop().add_reader(self._read_end, self._readable)
        self._watching = True

    @property
    def done(self) -> bool:
        return self.eof.done()

    def _readable(self) -> None:
        try:
            chunk = os.read(self._read_end, 65536)
        except BlockingIOError:
            return
        # Keep reading past the cap: a plugin blocked on a full pipe would only end at timeout.
        self._kept += chunk[: max(0, OUTPUT_CAP - len(self._kept))]
        if not chunk:
            self._stop_watching()
            self.eof.set_result(None)

    def text(self) -> str:
        return bytes(self._kept).decode(errors="replace")

    def _stop_watching(self) -> None:
        if self._watching:
            asyncio.get_running_loop().remove_reader(self._read_end)
            self._watching = False

    def close(self) -> None:
        self._stop_watching()
        for fd in (self._read_end, self.write_end):
            if fd >= 0:
                os.close(fd)
        self._read_end = self.write_end = -1
        if not self.eof.done():
            self.eof.cancel()


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """Kill the plugin's process group (whatever of it is left) and reap the plugin."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(process.wait()), _REAP_SECONDS)


def _kill_marked(run_mark: str) -> None:
    """Kill the processes a plugin spawned that left its group (setsid, daemonised): they
    inherit its environment, whose run mark names them. Reaped here when the agent is their
    parent (a subreaper, or the init of a container)."""
    wanted = f"{RUN_MARK}={run_mark}"
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if proc.environ().get(RUN_MARK) == run_mark:
                log.warning("killing pid %d left behind by a plugin (%s)", proc.pid, wanted)
                proc.kill()
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(proc.pid, os.WNOHANG)


def judge(code: int, stdout: str, stderr: str = "") -> Verdict:
    """The verdict for a finished plugin: exit code, first-line text, perfdata."""
    text, perfdata = split_output(stdout)
    if not text:
        text = _clip(stderr.strip().splitlines()[0]) if stderr.strip() else "(no output)"
    measurements: dict[str, Measurement] = {"output": text, "exit_code": code}
    measurements.update({f"perf_{label}": value for label, value in perfdata.items()})
    outcome = _EXIT.get(code)
    if outcome is None:
        return Verdict.unknown(_odd_exit(code, text), **measurements)
    return Verdict(outcome, "" if outcome is Outcome.OK else text, measurements)


def _odd_exit(code: int, text: str) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"plugin killed by {name}: {text}"
    return f"plugin exited with code {code} (not 0-3): {text}"


def split_output(output: str) -> tuple[str, dict[str, float]]:
    """First line's text, and the perfdata of the first line and of the long text."""
    first, _, long_text = output.partition("\n")
    text, _, perf = first.partition("|")
    _, bar, long_perf = long_text.partition("|")
    if bar:
        perf = f"{perf}\n{long_perf}"
    return _clip(text.strip()), parse_perfdata(perf)


def parse_perfdata(text: str) -> dict[str, float]:
    """`'label'=value[UOM];warn;crit;min;max ...` -> {label: value in base units}.

    Garbage is skipped, never raised: a plugin's verdict stands even if its perfdata is broken.
    Values are converted to seconds (s, ms, us) and bytes (B..TB); % and counters stay numbers.
    """
    values: dict[str, float] = {}
    for match in _PERF_ITEM.finditer(text):
        label = (match.group(1) or "").replace("''", "'") or match.group(2) or ""
        value = _perf_value(match.group(3).split(";", 1)[0])
        if label.strip() and value is not None:
            values[label.strip()] = value
    return values


def _perf_value(field: str) -> float | None:
    match = _PERF_VALUE.fullmatch(field.replace(",", ".") if "." not in field else field)
    if match is None:  # "U" (undetermined), empty, or not a number
        return None
    number = float(match.group(1)) * _UNIT_FACTORS.get(match.group(2).lower(), 1.0)
    return number if math.isfinite(number) else None


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_CAP else text[: _TEXT_CAP - 3] + "..."
