"""The catalogue validator knows the http probe's options of #17 (options 4, 8, 10, 11): a
wrong type, an unknown key or a bad expression is an error with its YAML path and line, all at
once."""

from __future__ import annotations

from agent.catalog.loader import load_text
from tests.catalog.example import EXAMPLE, edited, errors_of, line_of

HTTP = '          body_contains: "Segurança Social"\n'


def with_http(lines: str, text: str = EXAMPLE) -> str:
    """The example with `lines` (indented as options of the first http check) added."""
    return edited(HTTP, HTTP + lines, text)


def test_cel_expressions_compile_at_load_and_bad_ones_name_path_and_line() -> None:
    text = with_http(
        "          expect_json:\n"
        "            - 'body.status == \"UP\"'\n"
        "            - '!body.checks.exists(c, c.status == \"DOWN\")'\n"
        "            - 'body.status =='\n"
        "            - 'bdy.status == 1'\n"
    )
    assert errors_of(text) == [
        "services[0].checks[0].http.expect_json[2]: not a CEL expression: Syntax error: "
        "mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', "
        f"'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}} (column 15) "
        f"(services.yaml:{line_of(text, 'body.status ==' + chr(39))})",
        "services[0].checks[0].http.expect_json[3]: unknown variable 'bdy' (known: body, "
        f"status, headers) (services.yaml:{line_of(text, 'bdy.status')})",
    ]


def test_valid_cel_expressions_load() -> None:
    text = with_http("          expect_json: ['has(body.status)']\n")
    check = load_text(text, "services.yaml", environ={}).services[0].checks[0]
    assert check.spec.expect_json == ["has(body.status)"]  # type: ignore[union-attr]


def test_expect_json_must_be_a_list_of_strings() -> None:
    assert errors_of(with_http("          expect_json: {a: 1}\n"))[0].startswith(
        "services[0].checks[0].http.expect_json: "
    )
