"""The `alerting:` settings (receivers and routes) and the router that applies the routes.

    alerting:
      receivers:
        - {name: cco-am, type: alertmanager, urls: ["http://am1:9093", "http://am2:9093"]}
        - {name: soc-siem, type: syslog, host: siem.example, port: 6514, protocol: tcp}
        - {name: cco-mail, type: email, host: smtp.example, from: vigia@example, to: [cco@example],
           username: vigia, password: "${SMTP_PASSWORD}"}
      routes:
        - {team: soc, receivers: [soc-siem], continue: true}
        - {team: "*", severity: [critical], receivers: [cco-am, cco-mail]}
        - {team: "*", receivers: [cco-am]}

Routes are tried in order; the first that matches decides, unless it says `continue: true`,
in which case the next ones are tried too. A notification no route matches goes nowhere.

Each Alertmanager URL is delivered to independently (as Prometheus does), so a receiver with
several URLs fans out into one outbox receiver per URL: `cco-am#0`, `cco-am#1`. With a single
URL the outbox receiver keeps the plain name.

Nest `AlertingConfig` in the agent settings model: pydantic errors then carry the YAML path
(`alerting.receivers[1].port`) and `Source.add_validation_errors` adds the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerting.notification import Notification

Team = Literal["cco", "soc", "network", "*"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _http_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if scheme not in ("http", "https") or not sep or not rest.strip("/"):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class _ReceiverBase(_Config):
    name: str = Field(min_length=1, max_length=150, pattern=r"^[A-Za-z0-9_.:-]+$")
    timeout: float = Field(default=10.0, gt=0, le=120)


class AlertmanagerConfig(_ReceiverBase):
    type: Literal["alertmanager"]
    urls: list[str] = Field(min_length=1)  # base URLs: http://am:9093 (or with a path prefix)
    firing_ttl: float = Field(default=240.0, gt=0)  # endsAt of a firing alert = sent + this

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        return [_http_url(url) for url in urls]


class WebhookConfig(_ReceiverBase):
    type: Literal["webhook"]
    url: str
    secret: str = ""  # HMAC-SHA256 key; empty sends no signature

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        return _http_url(url)


class EmailConfig(_ReceiverBase):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True  # refuse to send when the server does not offer STARTTLS
    ca_file: str | None = None  # trust this CA bundle instead of the system's
    username: str = ""
    password: str = ""
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)

    @field_validator("sender", "to")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            if "@" not in address or any(c in address for c in " \r\n<>"):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


class SyslogConfig(_ReceiverBase):
    type: Literal["syslog"]
    host: str = Field(min_length=1)
    port: int = Field(default=514, ge=1, le=65535)
    protocol: Literal["udp", "tcp"] = "udp"
    facility: int = Field(default=16, ge=0, le=23)  # 16 = local0
    app_name: str = Field(default="vigia", min_length=1, max_length=48, pattern=r"^[!-~]+$")
    hostname: str = ""  # empty: this machine's name


ReceiverConfig = Annotated[
    AlertmanagerConfig | WebhookConfig | EmailConfig | SyslogConfig, Field(discriminator="type")
]


class Route(_Config):
    team: Team = "*"
    severity: list[str] | Literal["*"] = "*"
    receivers: list[str] = Field(min_length=1)
    continue_: bool = Field(default=False, alias="continue")

    def matches(self, notification: Notification) -> bool:
        if self.team != "*" and notification.team != self.team:
            return False
        return self.severity == "*" or notification.severity in self.severity


class AlertingConfig(_Config):
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names(self) -> AlertingConfig:
        names = [r.name for r in self.receivers]
        for name in sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"receivers: name {name!r} is used more than once")
        for i, route in enumerate(self.routes):
            for j, name in enumerate(route.receivers):
                if name not in names:
                    known = ", ".join(names) or "none"
                    raise ValueError(
                        f"routes[{i}].receivers[{j}]: {name!r} is not a configured receiver "
                        f"(known: {known})"
                    )
        return self


def delivery_names(receiver: ReceiverConfig) -> list[str]:
    """The outbox receiver names one configured receiver delivers through."""
    if isinstance(receiver, AlertmanagerConfig) and len(receiver.urls) > 1:
        return [f"{receiver.name}#{i}" for i in range(len(receiver.urls))]
    return [receiver.name]


class Router:
    """Which outbox receivers each notification goes to."""

    def __init__(self, config: AlertingConfig) -> None:
        self._routes = config.routes
        self._names = {r.name: delivery_names(r) for r in config.receivers}
        self._resent = {r.name for r in config.receivers if isinstance(r, AlertmanagerConfig)}

    def receivers_for(self, notification: Notification, *, resend: bool = False) -> list[str]:
        """The outbox receivers of `notification`, in route order, each once.

        `resend=True` is for the periodic repeats of an alert already notified (firing while
        it lasts, resolved for a while after): only Alertmanager receivers take those, since
        Alertmanager expects them and deduplicates; people and SIEMs get each state once.
        """
        chosen: dict[str, None] = {}  # ordered, without repeats
        for route in self._routes:
            if not route.matches(notification):
                continue
            for name in route.receivers:
                if not resend or name in self._resent:
                    chosen.update(dict.fromkeys(self._names[name]))
            if not route.continue_:
                break
        return list(chosen)

    def route(
        self, notifications: Iterable[Notification], *, resend: bool = False
    ) -> list[tuple[Notification, Sequence[str]]]:
        """Each notification with its receivers, ready for `Outbox.enqueue_routed`."""
        return [(n, self.receivers_for(n, resend=resend)) for n in notifications]
