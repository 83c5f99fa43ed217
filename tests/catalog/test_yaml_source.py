"""The YAML source on libyaml: the data PyYAML's safe loader builds, lines found on demand,
aliases and merge keys, secrets through aliases, the cyclic GC paused only during a load."""

from __future__ import annotations

import gc

import pytest
import yaml

from agent.catalog.loader import _load_text, load_text
from checks.specs import HttpSpec
from checks.yamlsource import parse
from tests.catalog.example import EXAMPLE, edited, errors_of, line_of

SECRET = "tok-9f8e7d"

# Two services sharing an anchored http block through a merge key and an aliased label set.
SHARED = """\
version: 1
services:
  - id: a
    name: A
    macro_service: comunicacoes
    tier: ouro
    labels: &labels {team: net}
    checks:
      - http: &http
          url: https://a.example/
          expect_status: [200]
          headers: {Authorization: "Bearer ${TOKEN}"}
          max_latency: 2s
  - id: b
    name: B
    macro_service: comunicacoes
    tier: ouro
    labels: *labels
    checks:
      - http: {<<: *http, url: "https://b.example/"}
"""


def test_the_data_is_what_pyyamls_safe_loader_builds() -> None:
    text = (
        "a: &a {x: 1, y: [2.5, true, null, 2024-01-02, '3']}\n"
        "b: {<<: *a, y: 0x1f, z: ~}\n"
        "c: {<<: [{p: 1, q: 1}, {p: 2, r: 2}]}\n"
        "d: !!set {k: null}\n"
        "=: e\n"
        "f: *a\n"
    )
    assert parse(text, "f.yaml", {}).data == yaml.safe_load(text)


def test_a_merged_value_is_validated_in_every_service_and_shown_where_it_is_written() -> None:
    text = SHARED.replace("max_latency: 2s", "max_latency: soon")
    found = errors_of(text, environ={"TOKEN": SECRET})
    at = line_of(text, "max_latency: soon")
    assert len(found) == 2
    assert found[0].startswith("services[0].checks[0].http.max_latency: 'soon'")
    assert found[1].startswith("services[1].checks[0].http.max_latency: 'soon'")
    assert all(f.endswith(f"(services.yaml:{at})") for f in found)


def test_the_merging_mapping_overrides_and_keeps_its_own_lines() -> None:
    text = SHARED.replace('url: "https://b.example/"', 'url: "htp://b"')
    (problem,) = errors_of(text, environ={"TOKEN": SECRET})
    assert problem == (
        "services[1].checks[0].http.url: 'htp://b' is not an http(s) URL "
        f"(services.yaml:{line_of(text, 'htp://b')})"
    )
    catalog = load_text(SHARED, environ={"TOKEN": SECRET})
    assert catalog.by_id["b"].labels == {"team": "net"}
    assert catalog.by_id["b"].checks[0].spec.url == "https://b.example/"  # type: ignore[union-attr]


def test_a_secret_reached_through_an_alias_is_masked_at_every_use() -> None:
    text = SHARED.replace('headers: {Authorization: "Bearer ${TOKEN}"}', 'headers: "${TOKEN}"')
    found = errors_of(text, environ={"TOKEN": SECRET})
    assert [f.split(":")[0] for f in found] == [
        "services[0].checks[0].http.headers",
        "services[1].checks[0].http.headers",
    ]
    assert all("'***'" in f and SECRET not in f for f in found)


def test_a_missing_secret_in_a_merged_block_is_reported_per_use() -> None:
    found = errors_of(SHARED, environ={})
    assert found == [
        "services[0].checks[0].http.headers.Authorization: environment variable TOKEN is not set "
        f"(services.yaml:{line_of(SHARED, 'Authorization')})",
        "services[1].checks[0].http.headers.Authorization: environment variable TOKEN is not set "
        f"(services.yaml:{line_of(SHARED, 'Authorization')})",
    ]


def test_a_duplicate_key_in_an_aliased_mapping_is_reported_once() -> None:
    text = SHARED.replace("labels: &labels {team: net}", "labels: &labels {team: net, team: x}")
    assert errors_of(text, environ={"TOKEN": SECRET}) == [
        f"services[0].labels.team: duplicate key 'team' (services.yaml:{line_of(text, '&labels')})"
    ]


def test_a_bad_merge_value_is_a_yaml_error_with_its_line() -> None:
    text = edited(
        "      - tls: {host: app.seg-social.pt", "      - tls: {<<: 3, host: app.seg-social.pt"
    )
    (problem,) = errors_of(text)
    assert problem.startswith("invalid YAML: expected a mapping or list of mappings for merging")
    assert problem.endswith(f"(services.yaml:{line_of(text, '<<: 3')})")


def test_an_error_after_a_missing_secret_reports_the_yaml_error_alone() -> None:
    text = 'a: "${NOT_SET}"\nb: !!int nope\n'
    problems = parse(text, "f.yaml", {}).problems
    assert [p.message for p in problems] == [
        "invalid YAML value: invalid literal for int() with base 10: 'nope'"
    ]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_gc_is_paused_for_a_load_and_left_as_it_was(enabled: bool) -> None:
    seen: list[bool] = []
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        load_text(EXAMPLE, environ={})
        errors_of("version: 1\nservices: [{id: X}]\n")
        seen.append(gc.isenabled())
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [enabled]


def test_no_collection_runs_during_a_load() -> None:
    """A load allocates far more than the 700 objects that trigger a young collection: many
    run without the pause, none with it (but the one the first allocation after it starts)."""
    text = EXAMPLE + "".join(
        f"  - {{id: s{n}, name: S{n}, macro_service: formacao, tier: platina,"
        f" checks: [{{tcp: {{host: 127.0.0.1, port: {1000 + n}}}}}]}}\n"
        for n in range(300)
    )
    starts: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            starts.append(info["generation"])

    was = gc.isenabled()
    gc.enable()
    gc.callbacks.append(count)
    try:
        catalog = load_text(text, environ={})
        paused = len(starts)
        _load_text(text, "services.yaml", {}, None, ("local",))
        unpaused = len(starts) - paused
    finally:
        gc.callbacks.remove(count)
        (gc.enable if was else gc.disable)()
    assert len(catalog.services) == 302
    assert paused <= 1 and unpaused > 10


def test_an_inherited_reuse_connection_is_a_field_like_one_written() -> None:
    """The loader sets the inherited value on the spec it just validated (no copy)."""
    text = SHARED.replace("version: 1\n", "version: 1\ndefaults: {reuse_connection: true}\n")
    catalog = load_text(text, environ={"TOKEN": SECRET})
    spec = catalog.by_id["b"].checks[0].spec
    written = HttpSpec(
        url="https://b.example/",
        expect_status=[200],
        headers={"Authorization": f"Bearer {SECRET}"},
        max_latency=2.0,
        reuse_connection=True,
    )
    assert isinstance(spec, HttpSpec) and spec == written
    assert "reuse_connection" in spec.model_fields_set
    assert spec.model_dump() == written.model_dump()
