"""Agent settings: `vigia.yaml`, overridden by VIGIA_* environment variables, then by flags.

With no file at all the agent runs on `./catalog/services.yaml` and a SQLite file in the
user's data directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.catalog.errors import CatalogError, Problem
from agent.locations.wire import PUSH_EVERY_SECONDS
from agent.scheduled_reports.config import ReportsConfig
from alerting.routing import AlertingConfig
from checks.durations import Duration
from checks.yamlsource import parse

DEFAULT_LISTEN = "127.0.0.1:9330"
DEFAULT_CONFIG = "vigia.yaml"

# environment variable -> settings key
ENVIRONMENT = {
    "VIGIA_LISTEN": "listen",
    "VIGIA_DB": "db",
    "VIGIA_CATALOG": "catalog",
    "VIGIA_RAW_RETENTION_DAYS": "raw_retention_days",
    "VIGIA_TIMEZONE": "timezone",
    "VIGIA_MAX_IN_FLIGHT": "max_in_flight",
    "VIGIA_MAX_PER_HOST": "max_per_host",
    "VIGIA_CONNECTIVITY_CHECK": "connectivity_check",
}


class SettingsError(CatalogError):
    """Invalid settings; same shape (path, value, file, line) as catalogue errors."""


class TokenEntry(BaseModel):
    """An API/console bearer token: only its hash is configured (`vigia token create`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "operator", "admin", "probe"]
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


LOCAL = "local"  # the location of the core's own probes
_LOCATION_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # as agent.locations.wire.LocationName


def _refuse_local(name: str) -> str:
    if name == LOCAL:
        raise ValueError(f"{LOCAL!r} is the core's own location: choose another name")
    return name


class LocationEntry(BaseModel):
    """A probe location (semantics.md §8): its worker's token hash (`vigia token create --role
    probe`) and the host:port the worker must reach to judge anything (its connectivity check:
    while it fails, the worker's results are unknown)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_LOCATION_NAME, max_length=63)
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    connectivity_check: Target = None

    @field_validator("name")
    @classmethod
    def _not_local(cls, value: str) -> str:
        return _refuse_local(value)


class WorkerEntry(BaseModel):
    """`vigia probe`: the location this worker probes from and the core it reports to
    (semantics.md §8). Flags of `vigia probe` override each key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: str = Field(pattern=_LOCATION_NAME, max_length=63)
    core: str = Field(pattern=r"^https?://[^\s/]+(/.*)?$")  # the core's URL: https://core:9330
    token: str = Field(min_length=1)  # the location's probe token, usually `${VIGIA_PROBE_TOKEN}`
    ca_file: str | None = None  # PEM CA that signed the core's certificate (a private CA)
    spool: str | None = None  # SQLite spool file; default in the user's data directory
    spool_hours: float = Field(default=6.0, gt=0, le=24 * 30)
    push_every: Duration = PUSH_EVERY_SECONDS  # well inside LocationDown's 2 x interval + timeout
    assignment_every: Duration = 60.0
    listen: Target = None  # host:port for the worker's own /healthz and /metrics

    @field_validator("location")
    @classmethod
    def _not_local(cls, value: str) -> str:
        return _refuse_local(value)


class RetentionSettings(BaseModel):
    """What the store keeps raw (agent/store/compaction.py): ok results older than `raw_ok`
    become hourly rollups, except those around a state change or incident; `batch` results
    per compaction transaction, `pause` between transactions (the store writer's turn)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_ok: Duration = 2 * 86400.0
    batch: int = Field(default=5000, ge=100, le=100_000)
    pause: Duration = 0.05

    @field_validator("raw_ok")
    @classmethod
    def _after_confirmation(cls, value: float) -> float:
        # an incident protects the results before its first failure only once it is stored:
        # compacting sooner than incidents are confirmed would lose them
        if value < 3600:
            raise ValueError(f"{value:g}s is too short: raw_ok is at least 1h (2d by default)")
        return value


MAX_STATUS_REFRESH = 3600.0  # seconds; a public page older than an hour misleads


class StatusPageSettings(BaseModel):
    """The public status page at /status (agent.status): off unless `enabled`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    refresh: Duration = 15.0  # the page is rendered at most once per this many seconds
    title: str = Field(default="", max_length=200)  # e.g. the organisation; "" = a generic title

    @field_validator("refresh")
    @classmethod
    def _sensible_refresh(cls, value: float) -> float:
        if not 1 <= value <= MAX_STATUS_REFRESH:
            raise ValueError(f"{value:g}s is not a refresh period (1s to 1h)")
        return value


class ClusterSettings(BaseModel):
    """Several `vigia run` nodes on one PostgreSQL database (semantics.md §9): each owns a
    share of the partitions through leases. Every node of a cluster sets the same
    `partitions` and `lease_seconds`, and its own `node`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str = Field(default="", max_length=200)  # "": this host's name and listen port
    partitions: int = Field(default=64, ge=1, le=4096)
    lease_seconds: Duration = 15.0

    @field_validator("lease_seconds")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value >= 1.0:
            raise ValueError(f"lease_seconds must be at least 1 s, not {value:g}")
        return value


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = DEFAULT_LISTEN
    db: str = ""  # empty: SQLite in the user's data directory
    catalog: str = "catalog/services.yaml"
    # every raw result older is rolled up, whatever its outcome (incident reviews lose their
    # probes then): 400 days keeps last year's reviews whole; ok results go after retention.raw_ok
    raw_retention_days: float = Field(default=400, gt=0)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    timezone: str = "Europe/Lisbon"
    max_in_flight: int = Field(default=256, ge=1)
    max_per_host: int = Field(default=16, ge=1)
    connectivity_check: Target = None  # host:port the agent must reach to judge anything
    agent_heartbeat: Duration = 15.0
    allow_retroactive_maintenance: bool = False
    quar: str | None = None  # path to a quar.yaml; None = the built-in 2024 QUAR
    tokens: tuple[TokenEntry, ...] = ()  # API/console bearer tokens (hashes only)
    anonymous_board: bool = False  # the board (and GET /api/v1/services) without a token
    external_url: str | None = None  # how operators reach the console (links, cookies)
    alert_rules: str | None = None  # path to a rules file; None = the shipped alerting/rules.yaml
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)  # receivers and routes
    # HTTP limits, decided before any work (agent.http_guard, agent.server)
    allowed_hosts: tuple[str, ...] = ()  # Host names served; () = listen host + loopback; "*" all
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # API bodies are tiny
    header_timeout: Duration = 10.0  # a connection must send its request headers within this
    max_connections: int = Field(default=1000, ge=1)  # beyond: 503 at once
    # probe locations (semantics.md §8); none: the core's own probes only, location `local`
    locations: tuple[LocationEntry, ...] = ()
    max_clock_offset: Duration = 5.0  # a worker whose clock is further off is refused
    # HTTPS on the listener (PEM files), so remote probe workers reach the core encrypted
    tls_cert: str | None = None
    tls_key: str | None = None
    worker: WorkerEntry | None = None  # this process as a location's worker (`vigia probe`)
    reports: ReportsConfig | None = None  # scheduled reports; none without the section
    cluster: ClusterSettings | None = None  # several core nodes on PostgreSQL; none: one node

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self

    status_page: StatusPageSettings = Field(default_factory=StatusPageSettings)  # public /status

    @field_validator("tokens")
    @classmethod
    def _no_probe_tokens(cls, value: tuple[TokenEntry, ...]) -> tuple[TokenEntry, ...]:
        for entry in value:
            if entry.role == "probe":
                raise ValueError(
                    f"token {entry.name!r}: a probe token belongs to its location (locations:)"
                )
        return value

    @field_validator("locations")
    @classmethod
    def _distinct_locations(cls, value: tuple[LocationEntry, ...]) -> tuple[LocationEntry, ...]:
        names = [entry.name for entry in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"location {twice[0]!r} is configured twice")
        return value

    @property
    def location_names(self) -> tuple[str, ...]:
        """Every location a check may run from: the configured ones and `local`."""
        return (*(entry.name for entry in self.locations), LOCAL)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        split_host_port(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"{value!r} is not a time zone") from exc
        return value


def _target(value: str | None) -> str | None:
    if value:
        split_host_port(value)
    return value or None


Target = Annotated[str | None, AfterValidator(_target)]  # a host:port to reach, or none


def split_host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def load_settings(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Settings from the file (if any), then environment, then flags (None flags ignored)."""
    env = os.environ if environ is None else environ
    file = path or env.get("VIGIA_CONFIG") or DEFAULT_CONFIG
    values, source_name = _file_values(file, bool(path or env.get("VIGIA_CONFIG")), env)
    origin = dict.fromkeys(values, source_name)
    for name, key in ENVIRONMENT.items():
        if env.get(name):
            values[key], origin[key] = env[name], f"environment {name}"
    for key, value in (flags or {}).items():
        if value is not None:
            values[key], origin[key] = value, "command line"
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_origin_problems(exc, origin, source_name)) from None


def _origin_problems(exc: ValidationError, origin: dict[str, str], default: str) -> list[Problem]:
    """Each error named after where its value came from: the file, a variable or a flag."""
    problems: list[Problem] = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        source = parse("", origin.get(key, default), {})
        source.add_error(error)
        problems.extend(source.problems)
    return problems


def _file_values(
    file: str, explicit: bool, environ: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    target = Path(file)
    if not target.exists():
        if explicit:
            raise SettingsError([Problem("", "settings file not found", file, None)])
        return {}, "settings"
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError([Problem("", f"cannot read the settings: {exc}", file, None)]) from None
    source = parse(text, file, environ)
    if source.problems:
        raise SettingsError(source.problems)
    if source.data is None:
        return {}, file
    if not isinstance(source.data, dict):
        raise SettingsError([Problem("", "settings must be a mapping", file, 1)])
    try:
        Settings.model_validate(source.data)
    except ValidationError as exc:
        source.add_validation_errors(exc)
        problems = sorted(source.problems, key=lambda p: (p.line or 0, p.path))
        raise SettingsError(problems) from None
    return dict(source.data), file
