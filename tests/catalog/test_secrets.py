"""`${NAME}` secrets: resolved from the given environment, never printed."""

from __future__ import annotations

import pytest

from agent.catalog.errors import CatalogError
from agent.catalog.loader import load_text
from checks.specs import HeartbeatSpec, HttpSpec
from tests.catalog.example import edit_second, edited, errors_of

SECRET = "s3cr3t-Valu3"
ENV = {"TOKEN": SECRET, "PASSWORD": SECRET, "HOST": "127.0.0.2"}


def _with_auth(auth: str) -> str:
    return edited("max_latency: 2s", f"max_latency: 2s\n          auth: {auth}")


def test_secrets_resolve_from_the_given_environ() -> None:
    text = edit_second("host: 127.0.0.1", 'host: "${HOST}"')
    text = edited("max_latency: 2s", 'max_latency: 2s\n          auth: {bearer: "${TOKEN}"}', text)
    catalog = load_text(text, environ=ENV)
    spec = catalog.by_id["ssd"].checks[0].spec
    assert isinstance(spec, HttpSpec) and spec.auth is not None and spec.auth.bearer is not None
    assert spec.auth.bearer.get_secret_value() == SECRET
    assert catalog.by_id["autenticacao"].checks[0].spec.host == "127.0.0.2"  # type: ignore[union-attr]


def test_a_secret_inside_a_longer_value_is_substituted() -> None:
    text = edited("url: https://app.seg-social.pt/", 'url: "https://${HOST}:8443/health"')
    spec = load_text(text, environ=ENV).by_id["ssd"].checks[0].spec
    assert isinstance(spec, HttpSpec) and spec.url == "https://127.0.0.2:8443/health"


def test_the_process_environment_is_not_read_when_a_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ONLY_IN_PROCESS", "x")
    text = edit_second("host: 127.0.0.1", 'host: "${ONLY_IN_PROCESS}"')
    assert errors_of(text, environ={"UNRELATED": "1"}) == [
        "services[1].checks[0].tcp.host: environment variable ONLY_IN_PROCESS is not set "
        "(services.yaml:29)"
    ]


def test_secret_fields_are_masked_in_repr_and_str() -> None:
    text = _with_auth('{basic: {username: u, password: "${PASSWORD}"}}')
    text = edit_second(
        "      - tcp: {host: 127.0.0.1, port: 8443}\n",
        "      - tcp: {host: 127.0.0.1, port: 8443}\n"
        '      - heartbeat: {max_silence: 1h, token: "${TOKEN}"}\n',
        text,
    )
    catalog = load_text(text, environ=ENV)
    http = catalog.by_id["ssd"].checks[0]
    beat = catalog.by_id["autenticacao"].checks[1]
    assert isinstance(beat.spec, HeartbeatSpec) and beat.spec.token is not None
    assert beat.spec.token.get_secret_value() == SECRET
    for shown in (
        repr(http),
        str(http),
        repr(http.spec),
        str(beat),
        repr(beat.spec),
        repr(catalog),
    ):
        assert SECRET not in shown
    assert "**" in repr(beat.spec)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a secret in a field whose own validation fails
        ("url: https://app.seg-social.pt/", 'url: "${TOKEN}"'),
        ("max_latency: 2s", 'max_latency: "${TOKEN}"'),
        ('"0 2 * * 0"', '"${TOKEN}"'),
        ("timezone: Europe/Lisbon", 'timezone: "${TOKEN}"'),
        ("depends_on: [autenticacao]", 'depends_on: ["${TOKEN}"]'),
        (
            "    tier: platina\n    pcn: true\n    owner: DAD\n    depends_on",
            '    tier: "${TOKEN}"\n    pcn: true\n    owner: DAD\n    depends_on',
        ),
        # a secret inside a value of the wrong shape: the error is about its container
        (
            "max_latency: 2s",
            'max_latency: 2s\n          headers: ["Authorization: Bearer ${TOKEN}"]',
        ),
        (
            "max_latency: 2s",
            "max_latency: 2s\n          auth: "
            '{bearer: "${TOKEN}", basic: {username: u, password: p}}',
        ),
        ("expect_status: [200]", 'expect_status: ["${TOKEN}"]'),
        ("min_days: 21}", 'min_days: 21, fingerprint_sha256: "${TOKEN}"}'),
    ],
)
def test_a_secret_never_appears_in_an_error_message(old: str, new: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_text(edited(old, new), "services.yaml", environ=ENV)
    assert caught.value.problems, "the mistake must be reported"
    assert SECRET not in str(caught.value)
    assert all(SECRET not in str(p) and SECRET not in repr(p) for p in caught.value.problems)


def test_a_secret_value_is_masked_even_where_it_was_not_referenced() -> None:
    # the same value typed in clear elsewhere is still masked once it is known as a secret
    text = edited("url: https://app.seg-social.pt/", f"url: {SECRET}")
    text = edit_second("host: 127.0.0.1", 'host: "${TOKEN}"', text)
    (problem,) = errors_of(text, environ=ENV)
    assert (
        problem == "services[0].checks[0].http.url: '***' is not an http(s) URL (services.yaml:17)"
    )


def test_a_secret_in_http_headers_is_not_shown_in_repr() -> None:
    text = edited("max_latency: 2s", 'max_latency: 2s\n          headers: {X-Api-Key: "${TOKEN}"}')
    spec = load_text(text, environ=ENV).by_id["ssd"].checks[0].spec
    assert isinstance(spec, HttpSpec)
    assert SECRET not in repr(spec) and SECRET not in str(spec)
    assert spec.headers == {"X-Api-Key": SECRET}  # still sent, just never shown
