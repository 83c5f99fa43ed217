"""Console routes: board (+ live sections), service, incident, reports, sign-in, actions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment
from pydantic import ValidationError

from agent.access.failures import client_address
from agent.access.tokens import Principal, Role
from agent.agent_view import AgentView, live_calendar
from agent.console.board import Board
from agent.console.fragments import ICONS
from agent.console.i18n import LANGUAGES, translator
from agent.console.refusals import refusal
from agent.console.session import (
    COOKIE,
    LANG_COOKIE,
    SESSION_SECONDS,
    Sessions,
    form,
    language,
    local_path,
    may,
)
from agent.operations.alerts import acknowledge_alert
from agent.operations.archive import archive_of, archived_file
from agent.operations.errors import OperationError
from agent.operations.incidents import add_annotation, incident_detail
from agent.operations.indicators import current_month
from agent.operations.messages import message_out, write_public_message
from agent.operations.models import AnnotationIn, PublicMessageIn
from agent.operations.reading import blocking, live, sql_store
from agent.operations.views import check_out, incident_out, latest_results, service_out, window_out
from agent.status import messages

LIVE_INTERVAL_MS = 2000
ARCHIVE_ROWS = 50  # the newest archived reports on the reports page
HISTORY = timedelta(days=7)


class Console:
    def __init__(self, agent: AgentView, env: Environment) -> None:
        self.agent = agent
        self.env = env
        self.sessions = Sessions(lambda: agent.settings)
        self.board = Board(agent, env)
        self.router = APIRouter(include_in_schema=False)
        self._routes()

    # ---- helpers ----------------------------------------------------------------------------

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = language(request)
        base = {
            "t": translator(lang), "lang": lang, "who": self.sessions.principal(request),
            "csrf": self.sessions.csrf(request), "request_path": request.url.path,
            "icons": ICONS,
        }  # fmt: skip
        html = self.env.get_template(name).render({**base, **context})
        return HTMLResponse(html, status_code=status)

    def message(self, request: Request, status: int, key: str) -> HTMLResponse:
        t = translator(language(request))
        return self.page(request, "message.html.j2", status, heading=str(status), text=t(key))

    def refused(self, request: Request, exc: OperationError) -> HTMLResponse:
        """The message page for an operation's refusal (agent.console.refusals)."""
        status, key = refusal(exc)
        return self.message(request, status, key)

    def viewer(self, request: Request, board: bool = False) -> Principal | Response:
        """The signed-in principal; the anonymous one only for the board itself (`board`)."""
        who = self.sessions.principal(request)
        if who is None or (who.role < Role.VIEWER and not board):
            target = f"/login?next={request.url.path}"
            return RedirectResponse(target, status_code=303)
        return who

    async def writer(self, request: Request) -> tuple[Principal, dict[str, str]] | Response:
        """The operator behind a console form, after the CSRF check; else a refusal page."""
        fields = await form(request)
        who = self.sessions.principal(request)
        if who is None or who.name == "anonymous":
            return self.message(request, 401, "operator_needed")
        if not self.sessions.csrf_ok(request, fields.get("csrf", "")) or not may(
            who, Role.OPERATOR
        ):
            return self.message(request, 403, "forbidden")
        return who, fields

    # ---- routes -----------------------------------------------------------------------------

    def _routes(self) -> None:
        r = self.router
        r.add_api_route("/", self.board_page, methods=["GET"])
        r.add_api_route("/board/live", self.board_live, methods=["GET"])
        r.add_api_route("/services/{service_id}", self.service_page, methods=["GET"])
        r.add_api_route("/incidents/{incident_id}", self.incident_page, methods=["GET"])
        r.add_api_route("/incidents/{incident_id}/review", self.review, methods=["GET"])
        r.add_api_route("/incidents/{incident_id}/annotate", self.annotate, methods=["POST"])
        r.add_api_route("/alerts/ack", self.ack, methods=["POST"])
        r.add_api_route(
            "/incidents/{incident_id}/public-message", self.incident_message, methods=["POST"]
        )
        r.add_api_route(
            "/services/{service_id}/public-message", self.service_message, methods=["POST"]
        )
        r.add_api_route("/reports", self.reports_page, methods=["GET"])
        r.add_api_route("/reports/monthly/{month}.html", self.monthly, methods=["GET"])
        r.add_api_route("/reports/archive/{archive_id}", self.archived, methods=["GET"])
        r.add_api_route("/login", self.login_page, methods=["GET"])
        r.add_api_route("/login", self.login, methods=["POST"])
        r.add_api_route("/logout", self.logout, methods=["POST"])
        r.add_api_route("/lang", self.switch_language, methods=["GET"])

    async def board_page(self, request: Request) -> Response:
        who = self.viewer(request, board=True)
        if isinstance(who, Response):
            return who
        lang = language(request)
        await self.board.month.wait_briefly()
        csrf = self.sessions.csrf(request)
        sections, tokens = await self.board.page(lang, translator(lang), who, csrf)
        return self.page(
            request, "board.html.j2", sections=sections, digests=tokens,
            interval_ms=LIVE_INTERVAL_MS,
        )  # fmt: skip

    async def board_live(self, request: Request, have: str = "", v: int = 1) -> Response:
        """What changed on the board since the tokens the page holds (`have=name:token,...`);
        `v=2`: tiles and rows by cursor. See `agent.console.board`."""
        who = self.sessions.principal(request)
        if who is None:
            return JSONResponse({"detail": "sign in"}, status_code=401)
        known = dict(item.split(":", 1) for item in have.split(",") if ":" in item)
        lang = language(request)
        csrf = self.sessions.csrf(request)
        body = await self.board.update(lang, translator(lang), who, csrf, known, by_row=v >= 2)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def service_page(self, request: Request, service_id: str) -> Response:
        who = self.viewer(request)
        if isinstance(who, Response):
            return who
        agent = self.agent
        service = agent.catalog.by_id.get(service_id)
        if service is None:
            return self.message(request, 404, "not_found")
        now, view, store = agent.clock.now(), await live(agent), sql_store(agent)
        last, incidents, history, windows = await blocking(
            self._service_records, store, service_id, service.checks, view, now
        )
        base = service_out(service, view, now, live_calendar(agent))
        checks = [
            check_out(c, view.check(c.id), last.get(c.id), view.locations(c.id))
            for c in service.checks
        ]
        s = {**base.model_dump(), "checks": checks, "depends_on": service.depends_on}
        said = await blocking(messages.listing, store, service=service_id, limit=20)
        return self.page(
            request, "service.html.j2", s=_Obj(s), incidents=incidents, history=history,
            windows=windows, public_messages=[message_out(m) for m in said],
            public_action=f"/services/{service_id}/public-message" if service.public else None,
        )  # fmt: skip

    def _service_records(
        self, store: Any, service_id: str, checks: Any, view: Any, now: datetime
    ) -> tuple[Any, ...]:
        last = latest_results(store, checks, view)
        incidents = [incident_out(i) for i in store.incidents(service=service_id)][-20:][::-1]
        steps = store.transitions(service_id, now - HISTORY, now)
        history = [{"at": s.at, "state": s.state.value} for s in steps][::-1]
        windows = [window_out(w) for w in store.windows(service=service_id, end=now + HISTORY)]
        return last, incidents, history, windows[-20:]

    async def incident_page(self, request: Request, incident_id: int) -> Response:
        who = self.viewer(request)
        if isinstance(who, Response):
            return who
        agent = self.agent
        now = agent.clock.now()
        if not 0 < incident_id < 2**63:
            return self.message(request, 404, "not_found")
        try:
            detail = await incident_detail(agent, incident_id, now)
        except OperationError as exc:
            return self.refused(request, exc)
        service = agent.catalog.by_id.get(detail.service)
        said = await blocking(messages.listing, sql_store(agent), incident=incident_id, limit=50)
        public = service is not None and service.public
        amber, red = self.board.thresholds()
        elapsed = (now - detail.started_at).total_seconds()
        level = "late" if elapsed > red else "warn" if elapsed >= amber else "ok"
        return self.page(
            request, "incident.html.j2", i=detail, elapsed=elapsed, level=level,
            amber_red=(amber, red), public_messages=[message_out(m) for m in said],
            public_action=f"/incidents/{incident_id}/public-message" if public else None,
        )  # fmt: skip

    async def annotate(self, request: Request, incident_id: int) -> Response:
        checked = await self.writer(request)
        if isinstance(checked, Response):
            return checked
        who, fields = checked
        try:
            body = AnnotationIn(field=fields.get("field", ""), text=fields.get("text", ""))  # type: ignore[arg-type]
            await add_annotation(self.agent, who, incident_id, body)
        except ValidationError:
            return self.message(request, 422, "annotate")
        except OperationError as exc:
            return self.refused(request, exc)
        return RedirectResponse(f"/incidents/{incident_id}#annotate", status_code=303)

    async def ack(self, request: Request) -> Response:
        checked = await self.writer(request)
        if isinstance(checked, Response):
            return checked
        who, fields = checked
        try:
            await acknowledge_alert(
                self.agent, who, fields.get("alert_id", ""), fields.get("comment", "")[:2000]
            )
        except OperationError as exc:
            return self.refused(request, exc)
        return RedirectResponse("/#alerts", status_code=303)

    async def incident_message(self, request: Request, incident_id: int) -> Response:
        return await self._public_message(
            request, {"incident": incident_id}, f"/incidents/{incident_id}#public-message"
        )

    async def service_message(self, request: Request, service_id: str) -> Response:
        return await self._public_message(
            request, {"service": service_id}, f"/services/{service_id}#public-message"
        )

    async def _public_message(self, request: Request, about: dict[str, Any], back: str) -> Response:
        """The API's checks, storage and audit, from a console form."""
        checked = await self.writer(request)
        if isinstance(checked, Response):
            return checked
        who, fields = checked
        try:
            body = PublicMessageIn(**about, text=fields.get("text", ""))
            await write_public_message(self.agent, who, body)
        except ValidationError:
            return self.message(request, 422, "public_message_bad")
        except OperationError as exc:
            return self.refused(request, exc)
        return RedirectResponse(local_path(back), status_code=303)

    async def review(self, request: Request, incident_id: int) -> Response:
        who = self.viewer(request)
        if isinstance(who, Response):
            return who
        from agent.console.reports import incident_review_html

        html = await blocking(incident_review_html, self.agent, incident_id, language(request))
        if html is None:
            return self.message(request, 404, "not_found")
        return HTMLResponse(html)

    async def reports_page(self, request: Request) -> Response:
        who = self.viewer(request)
        if isinstance(who, Response):
            return who
        from agent.console.reports import available, recent_months

        months = recent_months(current_month(self.agent).label, 12)
        _, archived = await blocking(archive_of(self.agent).listing, ARCHIVE_ROWS)
        return self.page(
            request, "reports.html.j2", months=months, reports_available=available(),
            archived=archived,
        )  # fmt: skip

    async def archived(self, request: Request, archive_id: int) -> Response:
        who = self.viewer(request)
        if isinstance(who, Response):
            return who
        if not 0 < archive_id < 2**31:
            return self.message(request, 404, "not_found")
        try:
            return await archived_file(self.agent, archive_id)
        except OperationError as exc:
            return self.refused(request, exc)

    async def monthly(self, request: Request, month: str) -> Response:
        who = self.viewer(request)
        if isinstance(who, Response):
            return who
        from agent.console.reports import monthly_html

        html = await blocking(monthly_html, self.agent, month, language(request))
        if html is None:
            return self.message(request, 404, "not_found")
        return HTMLResponse(html)

    async def login_page(self, request: Request, next: str = "/") -> Response:
        return self.page(request, "login.html.j2", next=local_path(next), failed=False)

    async def login(self, request: Request) -> Response:
        fields = await form(request)
        token, target = fields.get("token", "").strip(), local_path(fields.get("next"))
        failures = self.agent.auth_failures
        client = client_address(request.client.host if request.client else None)
        wait = failures.retry_after(client)
        if wait is not None:
            page = self.page(request, "login.html.j2", 429, next=target, failed=True)
            page.headers["Retry-After"] = str(max(1, round(wait)))
            return page
        session_id = self.sessions.open(token)
        if session_id is None:
            failures.note("login", client)
            return self.page(request, "login.html.j2", 401, next=target, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE, session_id, httponly=True, samesite="strict",
            secure=self.sessions.secure_cookies, max_age=SESSION_SECONDS,
        )  # fmt: skip
        return response

    async def logout(self, request: Request) -> Response:
        fields = await form(request)
        if not self.sessions.csrf_ok(request, fields.get("csrf", "")):
            return self.message(request, 403, "forbidden")
        self.sessions.close(request)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    async def switch_language(self, request: Request, to: str = "pt", next: str = "/") -> Response:
        response = RedirectResponse(local_path(next), status_code=303)
        if to in LANGUAGES:
            response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, samesite="lax")
        return response


class _Obj(dict[str, Any]):
    """A dict whose keys read as attributes in templates."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def local_time(zone: ZoneInfo) -> Any:
    def fmt(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"

    return fmt


def clock(seconds: float) -> str:
    """Elapsed time as H:MM:SS or M:SS."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
