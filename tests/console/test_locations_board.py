"""The board with probe locations: a locations panel (last batch, offset, version, down, what
fails only there) and, on a tile, the locations where a check fails short of the quorum."""

from __future__ import annotations

import re

from tests.api.test_probe_api import Core, batch, core, wire  # noqa: F401 (fixture)

RESULTS = "/api/v1/probe/results"


async def _board(core: Core) -> str:  # noqa: F811
    signed = await core.client.post("/login", data={"token": core.tokens["viewer"], "next": "/"})
    assert signed.status_code == 303
    page = await core.client.get("/")
    assert page.status_code == 200
    return page.text


def _row(page: str, location: str) -> str:
    match = re.search(rf'<tr data-location="{location}".*?</tr>', page, re.S)
    assert match, page
    return match.group(0)


async def test_the_board_shows_each_location_and_where_a_check_fails_below_quorum(
    core: Core,  # noqa: F811
) -> None:
    fails = [wire("portal/beat", 300, "fail"), wire("portal/beat", 240, "fail")]
    behind = {**batch("porto", fails), "spool_depth": 4321}  # a backlog after a cut
    await core.client.post(RESULTS, json=behind, headers=core.auth("porto"))
    oks = [wire("portal/beat", 290), wire("portal/beat", 230)]
    await core.client.post(RESULTS, json=batch("lisboa", oks), headers=core.auth("lisboa"))
    page = await _board(core)
    porto, lisboa = _row(page, "porto"), _row(page, "lisboa")
    assert 'data-down="false"' in porto and "portal/beat" in porto and "0.1" in porto
    assert '<td class="n">4321</td>' in porto and "Em espera" in page
    assert "portal/beat" not in lisboa
    assert 'data-location="local"' not in page  # the core's own probes are not a worker
    tile = re.search(r'<a class="tile[^"]*" id="tile-portal".*?</a>', page, re.S)
    assert tile and "em falha em porto" in tile.group(0)
    intranet = re.search(r'<a class="tile[^"]*" id="tile-intranet".*?</a>', page, re.S)
    assert intranet and "em falha em" not in intranet.group(0)


async def test_a_location_never_heard_from_shows_never(core: Core) -> None:  # noqa: F811
    page = await _board(core)
    assert "nunca" in _row(page, "porto")
