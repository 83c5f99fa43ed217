"""The example catalogue of issue 2, verbatim, and helpers to load variations of it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load_text

EXAMPLE = """\
version: 1
defaults: {interval: 60s, timeout: 10s, confirm_down: 3, confirm_up: 2}
tiers:
  platina: {interval: 30s}
services:
  - id: ssd
    name: Segurança Social Direta
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    pcn: true
    owner: DAD
    depends_on: [autenticacao]
    maintenance:
      - {cron: "0 2 * * 0", duration: 2h, timezone: Europe/Lisbon}
    checks:
      - http:
          url: https://app.seg-social.pt/
          expect_status: [200]
          body_contains: "Segurança Social"
          max_latency: 2s
      - tls: {host: app.seg-social.pt, port: 443, min_days: 21}
  - id: autenticacao
    name: Autenticação Central
    macro_service: desenvolvimento-aplicacoes
    tier: platina
    pcn: true
    owner: DAD
    checks:
      - tcp: {host: 127.0.0.1, port: 8443}
"""

# the second service's block
SECOND = EXAMPLE[EXAMPLE.index("  - id: autenticacao") :]


def edited(old: str, new: str, text: str = EXAMPLE) -> str:
    """`text` with `old` (which must occur exactly once) replaced by `new`."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def edit_second(old: str, new: str, text: str = EXAMPLE) -> str:
    """`text` with `old` replaced by `new` in the second service (autenticacao) only."""
    cut = text.index("  - id: autenticacao")
    return text[:cut] + edited(old, new, text[cut:])


def errors_of(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every problem the loader reports for `text`, as printed."""
    with pytest.raises(CatalogError) as caught:
        load_text(text, "services.yaml", environ=environ or {})
    return [str(problem) for problem in caught.value.problems]


def line_of(text: str, fragment: str) -> int:
    """1-based line of the only line of `text` containing `fragment`."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} on lines {lines}"
    return lines[0]
