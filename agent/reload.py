"""What a reload reads: the catalogue, the alert rules, and from a re-read settings file the
tokens and the board flags (a revoked token stops working now, with its console sessions).
Every other settings change is logged and waits for the next restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from agent.catalog.loader import load
from agent.catalog.model import Catalog
from agent.settings import Settings
from alerting.rule_file import load_rules
from alerting.rules import Rule

log = logging.getLogger(__name__)

RELOADABLE_SETTINGS = ("tokens", "anonymous_board", "status_page")
SettingsSource = Callable[[], Settings]


async def read_reload(
    source: str | Path, running: Settings, reread: SettingsSource | None
) -> tuple[Settings, Catalog, list[Rule]]:
    """The new settings, catalogue and rules, each validated whole: raises `CatalogError`
    or `RulesError` (then nothing of it applies)."""
    settings = await asyncio.to_thread(_reread, running, reread)
    catalog = await asyncio.to_thread(load, source, None, settings.location_names)
    rules = await asyncio.to_thread(load_rules, running.alert_rules)
    return settings, catalog, rules


def _reread(running: Settings, reread: SettingsSource | None) -> Settings:
    return running if reread is None else reloaded_settings(running, reread())


def reloaded_settings(running: Settings, fresh: Settings) -> Settings:
    """The running settings with the reloadable ones of `fresh`."""
    changed = [
        key
        for key in type(fresh).model_fields
        if key not in RELOADABLE_SETTINGS and getattr(fresh, key) != getattr(running, key)
    ]
    if changed:
        log.warning("settings %s changed: they take effect at the next restart", changed)
    update = {key: getattr(fresh, key) for key in RELOADABLE_SETTINGS}
    return running.model_copy(update=update)
