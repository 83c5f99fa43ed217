"""The console cookie is a server-side session, never the token (issue #12, item 9): before,
the cookie was the raw API token, and logging out left it valid for anyone who had copied it."""

from __future__ import annotations

from tests.api.conftest import Running

COOKIE = "vigia_session"


async def _sign_in(running: Running, role: str = "operator") -> str:
    answer = await running.client.post("/login", data={"token": running.tokens[role], "next": "/"})
    assert answer.status_code == 303
    session = answer.cookies[COOKIE]
    running.client.cookies.clear()
    return session


def _use(running: Running, session: str) -> None:
    running.client.cookies.clear()
    running.client.cookies.set(COOKIE, session)


async def _board(running: Running, session: str) -> int:
    _use(running, session)
    return (await running.client.get("/")).status_code


async def test_the_cookie_carries_a_session_id_not_the_token(running: Running) -> None:
    session = await _sign_in(running)
    assert session != running.tokens["operator"] and "vigia_" not in session
    assert await _board(running, session) == 200
    assert await _board(running, running.tokens["operator"]) == 303  # a raw token is no session


async def test_logout_revokes_the_session_for_every_copy_of_the_cookie(running: Running) -> None:
    session = await _sign_in(running)
    _use(running, session)
    page = await running.client.get("/")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = await running.client.post("/logout", data={"csrf": csrf})
    assert answer.status_code == 303
    assert await _board(running, session) == 303  # the copied cookie now goes to /login
