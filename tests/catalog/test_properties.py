"""Whatever text is thrown at the loader, it answers with a Catalog or a CatalogError."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load_text
from agent.catalog.model import Catalog
from tests.catalog.example import EXAMPLE

ENV = {"TOKEN": "t0ken", "HOST": "127.0.0.1"}
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load_or_refuse(text: str) -> None:
    try:
        result = load_text(text, "services.yaml", environ=ENV)
    except CatalogError as exc:
        assert exc.problems
        assert all(str(p) for p in exc.problems)  # every problem prints
        return
    assert isinstance(result, Catalog)


YAMLISH = st.text(
    alphabet=st.sampled_from([*"abcvz019 -:,.[]{}'\"#&*!|>?%@`$\n\t\\", "\x07", "é"]),
    max_size=200,
)

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "30s",
            "500ms",
            "0s",
            "2h",
            "-1s",
            "${TOKEN}",
            "${NOPE}",
            "0 2 * * 0",
            "* * * *",
            "Europe",
            "platina",
            "ssd",
            "autenticacao",
            "http",
            "https://x/",
            "htp://x",
            "desenvolvimento-aplicacoes",
            "$.status",
        ]
    ),
)
KEYS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "version",
            "defaults",
            "tiers",
            "services",
            "id",
            "name",
            "tier",
            "checks",
            "http",
            "tcp",
            "tls",
            "dns",
            "icmp",
            "heartbeat",
            "nagios",
            "host",
            "url",
            "port",
            "cron",
            "maintenance",
            "depends_on",
            "interval",
            "timeout",
            "labels",
            "monitored",
            "json",
        ]
    ),
)
STRUCTURES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=25,
)


@FAST
@given(YAMLISH)
def test_random_yamlish_text_gives_a_catalog_or_a_catalog_error(text: str) -> None:
    _load_or_refuse(text)


@FAST
@given(STRUCTURES)
def test_random_structures_give_a_catalog_or_a_catalog_error(data: Any) -> None:
    _load_or_refuse(yaml.safe_dump(data, allow_unicode=True))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside the example (mapping keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


BASE = yaml.safe_load(EXAMPLE)
PATHS = _paths(BASE)


def _replace(data: Any, path: tuple[Any, ...], new: Any, rename: bool) -> Any:
    """A copy of `data` with the value at `path` (or its key, when renaming) replaced."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = {k: v for k, v in data.items()}
        if rename and not rest:
            value = copy.pop(head)
            copy[new if isinstance(new, str | int | bool) or new is None else str(new)] = value
            return copy
        copy[head] = _replace(data[head], rest, new, rename)
        return copy
    copy_list = list(data)
    copy_list[head] = _replace(data[head], rest, new, rename)
    return copy_list


EDITS = st.lists(
    st.tuples(st.sampled_from(PATHS), st.one_of(LEAVES, STRUCTURES), st.booleans()),
    min_size=1,
    max_size=3,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDITS)
def test_the_example_with_random_replacements_gives_a_catalog_or_a_catalog_error(
    edits: list[tuple[tuple[Any, ...], Any, bool]],
) -> None:
    data = BASE
    for path, new, rename in edits:
        try:
            data = _replace(data, path, new, rename)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed this path
    _load_or_refuse(yaml.safe_dump(data, allow_unicode=True))


def test_the_replacement_strategy_reaches_the_deep_validators() -> None:
    """Guard for the generator itself: one leaf edit gives a check-spec error, one is valid."""
    url = ("services", 0, "checks", 0, "http", "url")
    assert url in PATHS
    try:
        load_text(yaml.safe_dump(_replace(BASE, url, "htp://x", False)), environ=ENV)
    except CatalogError as exc:
        assert [p.path for p in exc.problems] == ["services[0].checks[0].http.url"]
    else:
        raise AssertionError("the bad URL was accepted")
    catalog = load_text(yaml.safe_dump(_replace(BASE, url, "https://ok/", False)), environ=ENV)
    assert catalog.by_id["ssd"].checks[0].spec.url == "https://ok/"  # type: ignore[union-attr]
