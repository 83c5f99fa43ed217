"""E-mailing an archived report to the `reports.email` list, the file attached, through the
alerting e-mail receiver's SMTP session (STARTTLS, AUTH, the same failure classes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from agent.reports.i18n import Formatter
from agent.scheduled_reports.archive import Archived
from agent.scheduled_reports.config import ReportMail
from agent.scheduled_reports.making import MIME
from alerting.receivers.factory import email_receiver


class ReportMailer:
    def __init__(
        self, config: ReportMail, lang: str, timezone: str, now: Callable[[], datetime]
    ) -> None:
        self._receiver = email_receiver(config, now=now)
        self._format = Formatter.of(lang, timezone)

    def message(self, archived: Archived, content: bytes) -> EmailMessage:
        t = self._format.t
        title = t("title_monthly" if archived.kind == "monthly" else "title_quarterly")
        version = t("version_of", version=archived.version)
        message = self._receiver.new_message(f"[vigia] {title} {archived.period} ({version})")
        message.set_content(
            f"{title}\n{t('period')}: {archived.period}\n{t('version')}: {archived.version}\n"
            f"{t('generated')}: {self._format.when(archived.made_at, seconds=True)}\n"
            f"SHA-256: {archived.sha256}\n"
        )
        suffix = Path(archived.path).suffix.lstrip(".")
        maintype, subtype = MIME[suffix]
        message.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=archived.filename
        )
        return message

    async def send(self, archived: Archived, content: bytes) -> None:
        """Raises alerting's Transient/PermanentDeliveryError, naming the server, never the
        password."""
        await self._receiver.deliver([self.message(archived, content)])
