"""The catalogue as written in YAML: every key, its type and its limits (pydantic v2)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.catalog.model import MACRO_SERVICES, Impact
from checks.durations import Duration
from checks.specs import (
    KINDS,
    DnsSpec,
    HeartbeatSpec,
    HostSpec,
    HttpSpec,
    IcmpSpec,
    NagiosSpec,
    ProxyUrl,
    ScenarioSpec,
    TcpSpec,
    TlsSpec,
)

MacroService = Literal[
    "suporte-tecnico",
    "comunicacoes",
    "infraestrutura-postos-trabalho",
    "desenvolvimento-aplicacoes",
    "formacao",
    "gestao-informacao",
]
assert len(MacroService.__args__) == len(MACRO_SERVICES)  # type: ignore[attr-defined]

MAX_LOCATIONS = 32  # a check probed from more places than this is a mistake
MAX_WINDOW = 31 * 86400.0  # seconds; a recurring window longer than a month is a mistake
_ID = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimingFields(Strict):
    """Settings inherited defaults -> tier -> service -> check; None means inherit."""

    interval: Duration | None = None
    timeout: Duration | None = None
    confirm_down: int | None = Field(default=None, ge=1, le=100)
    confirm_up: int | None = Field(default=None, ge=1, le=100)

    @field_validator("interval")
    @classmethod
    def _interval_floor(cls, value: float | None) -> float | None:
        if value is not None and value < 1:
            raise ValueError(f"{value:g}s is below the 1s minimum interval")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("timeout must be above 0")
        return value


LocationList = list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]]


class LocationFields(Strict):
    """Where a check runs from (semantics.md §8), inherited defaults -> tier -> service ->
    check; None means inherit, and at the top: every configured location plus `local`."""

    locations: LocationList | None = Field(default=None, min_length=1, max_length=MAX_LOCATIONS)

    @field_validator("locations")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            twice = sorted({n for n in value if value.count(n) > 1})
            if twice:
                raise ValueError(f"location {twice[0]!r} is listed twice")
        return value


class QuorumFields(LocationFields):
    """N of the M locations (tier -> service -> check); None: a majority."""

    quorum: int | None = Field(default=None, ge=1, le=MAX_LOCATIONS)


class ProbeFields(Strict):
    """Probe options inherited defaults -> tier -> service -> the check's own kind block;
    None means inherit, and at the top: off."""

    reuse_connection: bool | None = None  # http: keep connections alive between runs
    proxy: ProxyUrl | None = Field(default=None, repr=False)  # http: a forward proxy
    proxy_from_env: bool | None = None  # http: HTTP(S)_PROXY and NO_PROXY of the environment
    no_proxy: list[str] | None = None  # http: hosts reached directly


class PolicyFields(TimingFields, LocationFields, ProbeFields):
    merge_within: Duration | None = None
    flap_start: float | None = Field(default=None, gt=0, le=100)
    flap_stop: float | None = Field(default=None, ge=0, le=100)


class RawDefaults(PolicyFields):
    pass


class RawTier(PolicyFields, QuorumFields):
    severity: str | None = None


class RawMaintenance(Strict):
    cron: str
    duration: Duration
    timezone: str = "Europe/Lisbon"
    reason: str = ""

    @field_validator("duration")
    @classmethod
    def _sensible_length(cls, value: float) -> float:
        if not 0 < value <= MAX_WINDOW:
            raise ValueError(f"{value:g}s is not a window length (above 0, at most 31d)")
        return value


class RawCheck(TimingFields, QuorumFields):
    name: str | None = Field(default=None, pattern=_ID)
    impact: Impact = Impact.DOWN
    http: HttpSpec | None = None
    scenario: ScenarioSpec | None = None
    tcp: TcpSpec | None = None
    tls: TlsSpec | None = None
    dns: DnsSpec | None = None
    icmp: IcmpSpec | None = None
    heartbeat: HeartbeatSpec | None = None
    nagios: NagiosSpec | None = None
    host: HostSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kinds = [k for k in KINDS if k in data]
            if len(kinds) != 1:
                found = ", ".join(kinds) or "none"
                raise ValueError(
                    f"a check needs exactly one kind of {', '.join(KINDS)} (found: {found})"
                )
            if data[kinds[0]] is None:  # `http:` with nothing after it
                raise ValueError(f"{kinds[0]!r} is empty: give its settings")
        return data

    @property
    def kind(self) -> str:
        for kind in KINDS:
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated with exactly one kind")


class RawService(PolicyFields, QuorumFields):
    id: str = Field(pattern=_ID, max_length=64)
    name: str = Field(min_length=1)
    macro_service: MacroService
    tier: str
    pcn: bool = False
    owner: str = ""
    monitored: bool = True
    depends_on: list[str] = Field(default_factory=list)
    maintenance: list[RawMaintenance] = Field(default_factory=list)
    checks: list[RawCheck] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    # on the public status page (agent.status), under `public_name` if given, else `name`
    public: bool = False
    public_name: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _monitored_has_checks(self) -> RawService:
        if self.monitored and not self.checks:
            raise ValueError("a monitored service needs at least one check (or monitored: false)")
        return self

    @field_validator("public_name")
    @classmethod
    def _public_name_needs_public(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not info.data.get("public"):
            raise ValueError("public_name is set but the service is not public (public: true)")
        return value


class RawCatalog(Strict):
    version: Literal[1]
    defaults: RawDefaults = RawDefaults()
    tiers: dict[str, RawTier] = Field(default_factory=dict)
    services: list[RawService] = Field(default_factory=list)
