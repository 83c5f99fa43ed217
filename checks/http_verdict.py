"""The verdict on a complete HTTP answer: transport, status, header, body and JSON rules in that
order, the first failure named with the values it compared."""

from __future__ import annotations

import codecs
import functools
import hashlib
import json
import re
import time
from typing import Any

import httpx

from checks.http_headers import header_failure
from checks.http_run import Fetched, Run
from checks.json_path import json_path
from checks.result import Verdict
from checks.specs import HttpSpec

_SNIPPET = 60  # characters of an expected/received value quoted in a reason


def judge(spec: HttpSpec, fetched: Fetched, run: Run) -> Verdict:
    latency = time.perf_counter() - run.started
    run.measurements["latency"] = round(latency, 6)
    if fetched.redirects:
        run.measurements["redirects"] = fetched.redirects
    if spec.static:
        run.measurements["body_sha256"] = hashlib.sha256(fetched.body).hexdigest()
    reason = _first_failure(spec, fetched.response, fetched.body)
    if reason:
        return Verdict.fail(reason, **run.measured())
    if spec.max_latency is not None and latency > spec.max_latency:
        slow = f"latency {latency:.3f}s over {spec.max_latency:g}s"
        return Verdict.degraded(slow, **run.measured())
    return Verdict.ok(**run.measured())


def _first_failure(spec: HttpSpec, response: httpx.Response, body: bytes) -> str | None:
    reason = (
        _transport_failure(spec, response)
        or _status_failure(spec, response.status_code)
        or _header_failure(spec, response)
    )
    if reason or not spec.body_conditions:
        return reason
    text = body.decode(body_encoding(response), errors="replace")
    reason = _text_failure(spec, text)
    if reason is None and (spec.json_ or spec.expect_json):
        reason = _json_failure(spec, response, text)
    return reason


def _text_failure(spec: HttpSpec, text: str) -> str | None:
    if spec.body_contains is not None and spec.body_contains not in text:
        return f"body does not contain {_quote(spec.body_contains)}"
    if spec.body_regex is not None and not _regex(spec.body_regex).search(text):
        return f"body does not match /{clip(spec.body_regex)}/"
    if spec.body_not_contains is not None and spec.body_not_contains in text:
        return f"body contains {_quote(spec.body_not_contains)}"
    if spec.body_not_regex is not None and (found := _regex(spec.body_not_regex).search(text)):
        return f"body matches /{clip(spec.body_not_regex)}/ ({_quote(found.group(0))})"
    return None


def _transport_failure(spec: HttpSpec, response: httpx.Response) -> str | None:
    if spec.require_tls is None:
        return None
    final = response.request.url
    if spec.require_tls and final.scheme != "https":
        return f"downgrade: the chain ends on plain http ({clip(str(final))})"
    if not spec.require_tls and final.scheme == "https":
        return f"the chain ends on https ({clip(str(final))}), require_tls is false"
    return None


def _status_failure(spec: HttpSpec, status: int) -> str | None:
    if spec.expect_status is None:
        return None if 200 <= status <= 299 else f"status {status}, expected 2xx"
    if status in spec.expect_status:
        return None
    return f"status {status}, expected {' or '.join(str(s) for s in spec.expect_status)}"


def _header_failure(spec: HttpSpec, response: httpx.Response) -> str | None:
    if not (spec.expect_headers or spec.forbid_headers):
        return None
    return header_failure(spec.expect_headers, spec.forbid_headers, response.headers)


def _json_failure(spec: HttpSpec, response: httpx.Response, text: str) -> str | None:
    try:
        document = json.loads(text)
    except ValueError:
        return f"body is not JSON (starts {_quote(text[:_SNIPPET])})"
    reason = _json_equality_failure(spec.json_ or {}, document)
    if reason is None and spec.expect_json:
        from checks.json_expr import Evaluation  # the CEL runtime loads only when used

        evaluation = Evaluation(document, response.status_code, _joined(response.headers.raw))
        reason = evaluation.failure(spec.expect_json)
    return reason


def _joined(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header values by lower-case name, repeated headers joined with ", " (RFC 9110 5.3)."""
    joined: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        joined[key] = f"{joined[key]}, {text}" if key in joined else text
    return joined


def _json_equality_failure(expected: dict[str, Any], document: Any) -> str | None:
    for path, want in expected.items():
        try:
            found = json_path(document, path)
        except LookupError as missing:
            return f"JSON {path}: {missing.args[0]}"
        if not _json_equal(found, want):
            return f"JSON {path} is {clip(json.dumps(found))}, expected {clip(json.dumps(want))}"
    return None


def _json_equal(found: Any, want: Any) -> bool:
    # In Python True == 1; in JSON they are different values.
    if isinstance(found, bool) or isinstance(want, bool):
        return type(found) is type(want) and found == want
    return bool(found == want)


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def body_encoding(response: httpx.Response) -> str:
    charset = response.charset_encoding
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    return "utf-8"


def clip(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def _quote(text: str) -> str:
    return repr(clip(text))
