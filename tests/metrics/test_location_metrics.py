"""Each check's last result per location is exported, for the Grafana per-location panel."""

from __future__ import annotations

import re

from tests.api.test_probe_api import Core, batch, core, wire  # noqa: F401 (fixture)


def _location_success(scrape: str, location: str) -> float:
    labels = rf'[^}}]*check="portal/beat"[^}}]*location="{location}"[^}}]*'
    match = re.search(rf"vigia_check_location_success\{{{labels}\}} (\S+)", scrape)
    assert match, scrape
    return float(match.group(1))


async def test_each_locations_last_result_is_its_own_series(core: Core) -> None:  # noqa: F811
    url = "/api/v1/probe/results"
    await core.client.post(
        url, json=batch("porto", [wire("portal/beat", 60, "fail")]), headers=core.auth("porto")
    )
    await core.client.post(
        url, json=batch("lisboa", [wire("portal/beat", 50)]), headers=core.auth("lisboa")
    )
    scrape = core.agent.metrics.render().decode()
    assert _location_success(scrape, "porto") == 0.0
    assert _location_success(scrape, "lisboa") == 1.0
