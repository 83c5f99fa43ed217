"""docs/probes.md lists every option of every probe kind: a new option without its line in the
docs fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from checks import specs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "probes.md"
KINDS: dict[str, type[BaseModel]] = {
    "http": specs.HttpSpec,
    "scenario": specs.ScenarioSpec,
    "tcp": specs.TcpSpec,
    "tls": specs.TlsSpec,
    "dns": specs.DnsSpec,
    "icmp": specs.IcmpSpec,
    "heartbeat": specs.HeartbeatSpec,
    "nagios": specs.NagiosSpec,
    "host": specs.HostSpec,
}
NESTED = (
    specs.BasicAuth,
    specs.HttpAuth,
    specs.ClientCert,
    specs.HeaderRule,
    specs.DialogueStep,
    specs.RecordRules,
    specs.OAuth2,
    specs.Capture,
)


def _section(kind: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^## `{kind}`\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/probes.md has no section for {kind}"
    return match.group(1)


def _option_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_option_of_the_kind_is_in_its_section_with_an_example(kind: str) -> None:
    section = _section(kind)
    missing = [f for f in _option_names(KINDS[kind]) if f"| `{f}` |" not in section]
    assert not missing, f"{kind}: options missing from docs/probes.md: {missing}"
    assert "```yaml" in section, f"{kind}: no example"


def test_the_nested_blocks_are_named() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for model in NESTED:
        for name in _option_names(model):
            assert f"`{name}`" in text, (model.__name__, name)
