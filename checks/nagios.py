"""Nagios plugin checks: run a monitoring-plugins style executable and read its verdict.

Contract (Nagios plugin development guidelines): exit 0/1/2/3 = OK/WARNING/CRITICAL/UNKNOWN;
first output line `TEXT | perfdata`, further lines long text, whose first `|` starts more
perfdata. The plugin runs as an argv (never through a shell), in its own process group so a
timeout kills whatever it spawned too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal

from checks.context import ProbeContext
from checks.result import Measurement, Outcome, Verdict
from checks.specs import NagiosSpec

OUTPUT_CAP = 64 * 1024  # bytes kept per stream; the rest is drained and dropped
_REAP_SECONDS = 1.0
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
    try:
        process = await asyncio.create_subprocess_exec(
            *spec.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_BASE_ENV | spec.env,
            start_new_session=True,  # own process group: killpg reaches its children
        )
    except FileNotFoundError:
        return Verdict.unknown(f"plugin not found: {spec.command[0]}")
    except PermissionError:
        return Verdict.unknown(f"plugin not executable: {spec.command[0]}")
    except OSError as exc:
        return Verdict.unknown(f"plugin could not start: {spec.command[0]}: {exc}")
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await asyncio.gather(
                _read_capped(process.stdout), _read_capped(process.stderr)
            )
            code = await process.wait()
    except TimeoutError:
        # The plugin may have exited while a child it left behind still holds its stdout.
        await _kill_group(process, even_if_exited=True)
        return Verdict.fail(f"plugin killed after {timeout:g}s")
    finally:
        await _kill_group(process)
    return judge(code, stdout.decode(errors="replace"), stderr.decode(errors="replace"))


async def _read_capped(stream: asyncio.StreamReader | None) -> bytes:
    # Keep reading past the cap: a plugin blocked on a full pipe would only end at the timeout.
    if stream is None:
        return b""
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk[: max(0, OUTPUT_CAP - len(kept))]
    return bytes(kept)


async def _kill_group(process: asyncio.subprocess.Process, *, even_if_exited: bool = False) -> None:
    """Kill the plugin's process group (if still needed) and reap the plugin."""
    if process.returncode is not None and not even_if_exited:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    # asyncio's wait() also waits for the pipes to close; a child that left the group (setsid)
    # could hold them forever, so the reaping wait is bounded too.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(process.wait()), _REAP_SECONDS)


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
