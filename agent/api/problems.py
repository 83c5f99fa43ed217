"""422 bodies that can always be written: the request's own bad values are echoed safely.

FastAPI's default handler echoes each error's `input`. Python's json accepts `NaN` and
`Infinity`, and a JSON string may hold a lone surrogate (`"\\ud800"`); echoing either made
the 422 itself fail to encode (NaN is not JSON, a surrogate is not UTF-8), so the client got
a 500 for its own bad input. Here an input that cannot be encoded is shown as its ASCII repr.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

_ECHO = 200  # characters of a bad value echoed back: enough to recognise it


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": safe_errors(exc.errors())}, status_code=422)


def safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [_safe(error) for error in errors]


def _safe(error: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": str(error.get("type", "")),
        "loc": [_text(part) if isinstance(part, str) else part for part in error.get("loc", ())],
        "msg": _text(str(error.get("msg", ""))),
    }
    if "input" in error:
        out["input"] = _echo(error["input"])
    return out


def _echo(value: Any) -> Any:
    try:
        encoded = jsonable_encoder(value)
        text = json.dumps(encoded, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError, UnicodeError):
        return ascii(value)[:_ECHO]
    return encoded if len(text) <= _ECHO else text[:_ECHO]


def _text(value: str) -> str:
    # a lone surrogate in a field name or message must not stop the whole answer
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
