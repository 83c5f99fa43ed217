"""Receivers from the `alerting:` settings, keyed by their outbox receiver name."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from alerting.receivers.alertmanager import AlertmanagerReceiver
from alerting.receivers.base import Receiver
from alerting.receivers.email import EmailReceiver
from alerting.receivers.syslog import SyslogReceiver
from alerting.receivers.webhook import WebhookReceiver
from alerting.routing import (
    AlertingConfig,
    AlertmanagerConfig,
    EmailConfig,
    ReceiverConfig,
    SyslogConfig,
    WebhookConfig,
    delivery_names,
)


def build_receivers(config: AlertingConfig) -> dict[str, Receiver]:
    """One receiver per outbox name (`Router` uses the same names). Call it on the event loop
    that will deliver: the HTTP receivers open their client here."""
    receivers: dict[str, Receiver] = {}
    for receiver in config.receivers:
        receivers.update(build_receiver(receiver))
    return receivers


def build_receiver(config: ReceiverConfig) -> Mapping[str, Receiver]:
    names = delivery_names(config)
    match config:
        case AlertmanagerConfig():
            return {
                name: AlertmanagerReceiver(
                    name, url, timeout=config.timeout, firing_ttl=config.firing_ttl
                )
                for name, url in zip(names, config.urls, strict=True)
            }
        case WebhookConfig():
            hook = WebhookReceiver(
                config.name, config.url, secret=config.secret, timeout=config.timeout
            )
            return {config.name: hook}
        case EmailConfig():
            return {config.name: email_receiver(config)}
        case SyslogConfig():
            return {config.name: _syslog(config)}


def email_receiver(
    config: EmailConfig, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> EmailReceiver:
    return EmailReceiver(
        config.name,
        host=config.host,
        port=config.port,
        sender=config.sender,
        to=config.to,
        starttls=config.starttls,
        username=config.username,
        password=config.password,
        ssl_context=ssl.create_default_context(cafile=config.ca_file),
        timeout=config.timeout,
        now=now,
    )


def _syslog(config: SyslogConfig) -> SyslogReceiver:
    return SyslogReceiver(
        config.name,
        host=config.host,
        port=config.port,
        protocol=config.protocol,
        facility=config.facility,
        app_name=config.app_name,
        hostname=config.hostname,
        timeout=config.timeout,
    )
