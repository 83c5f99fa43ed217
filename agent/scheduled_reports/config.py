"""The `reports:` section of `vigia.yaml`: when each report is made, where it is kept, who
gets it by e-mail.

    reports:
      directory: /var/lib/vigia/reports   # default: the state directory's reports/
      lang: pt                            # pt | en
      monthly: {cron: "0 8 1 * *"}        # the previous month, made on the 1st at 08:00
      quarterly: {cron: "0 8 1 1,4,7,10 *", enabled: true}
      timezone: Europe/Lisbon             # of the cron lines only; default the settings'
                                          # timezone, in which months are always counted
      email:
        host: smtp.example
        from: vigia@example
        to: [direccao@example, cco@example]
        username: vigia
        password: "${SMTP_PASSWORD}"
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.indicators.periods import time_zone
from agent.maintenance import cron_schedule
from alerting.routing import EmailConfig

KINDS = ("monthly", "quarterly")
DEFAULT_CRON = {"monthly": "0 8 1 * *", "quarterly": "0 8 1 1,4,7,10 *"}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Config):
    """One report kind: made at each `cron` time (5-field crontab, APScheduler's CronTrigger)
    for the period before that time."""

    enabled: bool = True
    cron: str = ""  # empty: DEFAULT_CRON of the kind

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            if value:
                cron_schedule(value, "UTC")  # the zone does not change what is valid
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid cron line: {exc}") from None
        return value


class ReportMail(EmailConfig):
    """The alerting e-mail receiver's settings (SMTP, STARTTLS, AUTH, `${NAME}` secrets);
    `type` and `name` are implied."""

    type: Literal["email"] = "email"
    name: str = "reports"
    timeout: float = Field(default=30.0, gt=0, le=300)  # a PDF takes longer than an alert


class ReportsConfig(_Config):
    directory: str | None = None  # None: <state directory>/reports
    lang: Literal["pt", "en"] = "pt"
    format: Literal["pdf", "html"] = "pdf"
    timezone: str | None = None  # of the cron lines; None: the settings' timezone
    monthly: Schedule = Field(default_factory=Schedule)
    quarterly: Schedule = Field(default_factory=Schedule)
    email: ReportMail | None = None  # None: archived only

    @field_validator("directory")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("directory is empty: leave it out for the state directory")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            time_zone(value)
        return value

    def schedule(self, kind: str) -> Schedule:
        return self.monthly if kind == "monthly" else self.quarterly

    def cron(self, kind: str) -> str:
        return self.schedule(kind).cron or DEFAULT_CRON[kind]

    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in KINDS if self.schedule(k).enabled)
