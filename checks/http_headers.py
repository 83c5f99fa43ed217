"""Header rules of the HTTP probe: `expect_headers` (a value must match) and `forbid_headers`
(no value may match), as blackbox_exporter's `fail_if_header_not_matches` and
`fail_if_header_matches`.

Each value of a repeated header (two `Set-Cookie`, two `Via`) is matched on its own, not the
comma-joined line: an expected header passes when one of its values matches, a forbidden one
fails when any does. A missing header fails either rule unless the rule says `allow_missing`.

Reasons name the header and the regex. They never say "does not match": the shipped alert
`PageContentLost` (alerting/rules.yaml) reads that phrase as a defaced page. A value is quoted
only for headers that carry no credential; `Set-Cookie` or `Authorization` values are session
tokens, so their reason says the value is withheld.
"""

from __future__ import annotations

import functools
import re

import httpx

from checks.specs import HeaderRule

_SNIPPET = 60

# Header names whose values are credentials (exact names, then words inside a name)
_SECRET_HEADERS = frozenset(
    {"set-cookie", "cookie", "authorization", "proxy-authorization", "www-authenticate"}
)
_SECRET_WORDS = ("token", "secret", "session", "api-key", "apikey", "password", "auth")


def header_failure(
    expected: dict[str, HeaderRule], forbidden: dict[str, HeaderRule], headers: httpx.Headers
) -> str | None:
    """The first rule the response's headers break, as a reason; None when all hold."""
    for name, rule in expected.items():
        values = headers.get_list(name)
        if not values:
            if rule.allow_missing:
                continue
            return f"header {name} missing"
        if not any(_regex(rule.regex).search(value) for value in values):
            return f"header {name} is {_shown(name, values)}, expected /{_clip(rule.regex)}/"
    for name, rule in forbidden.items():
        values = headers.get_list(name)
        if not values:
            if rule.allow_missing:
                continue
            return f"header {name} missing (forbid_headers needs it unless allow_missing: true)"
        found = next((v for v in values if _regex(rule.regex).search(v)), None)
        if found is not None:
            shown = _shown(name, [found])
            return f"header {name} matches forbidden /{_clip(rule.regex)}/ ({shown})"
    return None


def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def _shown(name: str, values: list[str]) -> str:
    if is_secret_header(name):
        return "value withheld"
    return ", ".join(_quote(value) for value in values)


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _clip(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def _quote(text: str) -> str:
    return repr(_clip(text))
