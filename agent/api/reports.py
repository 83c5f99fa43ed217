"""The report archive: list (viewer), download (viewer), re-run a period (operator, audited)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.api.context import Operator, Viewer, agent_of, blocking, sql_store
from agent.operations import audit
from agent.operations.archive import archive_of, archived_file
from agent.scheduled_reports.archive import Archived

router = APIRouter(tags=["reports"])
ArchiveId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
_QUARTER = r"^\d{4}-Q[1-4]$"


class ArchivedOut(BaseModel):
    id: int
    kind: str
    period: str
    version: int
    filename: str
    sha256: str
    bytes: int
    made_at: datetime
    mailed_at: datetime | None  # None: not e-mailed (none configured, or not yet)
    download: str  # the file, under this API


class ArchivePage(BaseModel):
    items: list[ArchivedOut]
    total: int
    offset: int
    limit: int


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["monthly", "quarterly"]
    period: str = Field(max_length=7, description="YYYY-MM (monthly) or YYYY-Qn (quarterly)")

    @model_validator(mode="after")
    def _period_of_kind(self) -> RerunIn:
        pattern = _MONTH if self.kind == "monthly" else _QUARTER
        if not re.fullmatch(pattern, self.period):
            shape = "YYYY-MM" if self.kind == "monthly" else "YYYY-Qn (n 1-4)"
            raise ValueError(f"period {self.period!r}: a {self.kind} period is {shape}")
        return self


def archived_out(row: Archived) -> ArchivedOut:
    fields = {k: getattr(row, k) for k in ArchivedOut.model_fields if k != "download"}
    return ArchivedOut(**fields, download=f"/api/v1/reports/archive/{row.id}")


@router.get("/reports/archive", response_model=ArchivePage)
async def list_archive(
    request: Request,
    _: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ArchivePage:
    """Every archived report (scheduled and re-runs), newest first."""
    total, rows = await blocking(archive_of(agent_of(request)).listing, limit, offset)
    items = [archived_out(r) for r in rows]
    return ArchivePage(items=items, total=total, offset=offset, limit=limit)


@router.get("/reports/archive/{archive_id}", responses={404: {}, 409: {}})
async def download(request: Request, _: Viewer, archive_id: ArchiveId) -> Response:
    """The archived file as it was made (409 when it was removed or altered since)."""
    return await archived_file(agent_of(request), archive_id)


@router.post(
    "/reports/archive", response_model=ArchivedOut, status_code=201, responses={409: {}, 422: {}}
)
async def rerun(request: Request, who: Operator, body: RerunIn) -> ArchivedOut:
    """Make the period's report again: a new version, the earlier ones kept."""
    agent = agent_of(request)
    if agent.reports is None:
        raise HTTPException(409, "scheduled reports are off: add a reports: section to vigia.yaml")
    if body.kind not in agent.reports.kinds:
        raise HTTPException(409, f"{body.kind} reports are disabled in reports:")
    from agent.reports.pdf import PdfUnavailableError  # the reports module: only when on

    try:
        row = await agent.reports.rerun(body.kind, body.period)
    except PdfUnavailableError as exc:
        raise HTTPException(503, str(exc)) from None
    detail = {"kind": row.kind, "period": row.period, "version": row.version}
    await blocking(
        audit.record, sql_store(agent), who, "report.rerun", f"reports/archive/{row.id}",
        detail, agent.clock.now(),
    )  # fmt: skip
    return archived_out(row)
