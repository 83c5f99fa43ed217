"""The report archive as the API and the console read it: the listing and one file's download."""

from __future__ import annotations

from starlette.responses import Response

from agent.agent_view import AgentView
from agent.operations.errors import Conflict, NotFound
from agent.operations.reading import blocking, sql_store
from agent.scheduled_reports.archive import Archive, ArchiveAlteredError


def archive_of(agent: AgentView) -> Archive:
    return agent.reports.archive if agent.reports else Archive(sql_store(agent))


async def archived_file(agent: AgentView, archive_id: int) -> Response:
    """The file as it was made, as a download; NotFound, or Conflict when removed or altered."""
    try:
        found = await blocking(archive_of(agent).read, archive_id)
    except ArchiveAlteredError as exc:
        raise Conflict(f"report {archive_id}: {exc}") from None
    if found is None:
        raise NotFound(f"report {archive_id} is not in the archive")
    row, content = found
    media = "application/pdf" if row.filename.endswith(".pdf") else "text/html; charset=utf-8"
    headers = {
        "Content-Disposition": f'attachment; filename="{row.filename}"',
        "X-Checksum-SHA256": row.sha256,
    }
    return Response(content, media_type=media, headers=headers)
