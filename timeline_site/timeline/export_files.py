"""An export as a file: CSV rows or JSON records, written one activity at a time as the service reads
them (timeline_site.invent.export), so a worker's memory stays flat however long the timeline.

CSV is for spreadsheets, which run a cell starting with "=", "+", "-", "@", a tab
or a carriage return as a formula: such a cell gets a leading "'" (OWASP's advice
against CSV injection). JSON keeps the typed records as they are. A file that
could not be finished says so in its last line; items Invent sent that could not
be read are counted there too, so nothing is left out silently.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header

from timeline_site.invent.export import ExportProgress, TimelineExport
from timeline_site.invent.kinds import GENERIC_KIND, kind_of
from timeline_site.invent.types import Activity, File
from timeline_site.timeline.display import humanize_type

ExportFormat = Literal["csv", "json"]
CONTENT_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
CSV_COLUMNS = (
    "id", "type", "created_at", "actor_kind", "actor_name", "actor_id", "summary", "note_text",
    "file_names", "file_urls", "segment", "broadcast", "reason", "feedback", "metadata",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 32 * 1024  # written out in pieces of about this size: fewer, better-compressed writes


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC: "2026-11-30T07:00:00Z"."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def safe_cell(value: str) -> str:
    """A cell no spreadsheet runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def summary(activity: Activity) -> str:
    """One line saying what happened: "Added to segment: VIP", "Unrecognised activity: Contact merged"."""
    kind = kind_of(activity.type)
    title = kind.title if kind is not GENERIC_KIND else f"{kind.title}: {humanize_type(activity.type)}"
    detail = ""
    if activity.segment is not None:
        detail = activity.segment.name
    elif activity.file is not None:
        detail = activity.file.filename
    elif activity.note is not None and activity.note.attachments:
        count = len(activity.note.attachments)
        detail = f"{count} attachment" + ("" if count == 1 else "s")
    elif activity.broadcast is not None:
        detail = f"from broadcast {activity.broadcast.name}"
    return f"{title}: {detail}" if detail else title


def _files(activity: Activity) -> list[File]:
    attachments = list(activity.note.attachments) if activity.note is not None else []
    return [*attachments, activity.file] if activity.file is not None else attachments


def csv_cells(activity: Activity) -> list[str]:
    who = activity.assistant or activity.staff_member
    files = _files(activity)
    metadata = dict(activity.metadata)
    cells = [
        activity.id,
        activity.type,
        utc_iso(activity.created_at),
        activity.actor_kind,
        who.name if who is not None else "",
        who.id if who is not None else "",
        summary(activity),
        activity.note.content if activity.note is not None else "",
        "\n".join(f.filename for f in files),
        "\n".join(f.url or "" for f in files),
        activity.segment.name if activity.segment is not None else "",
        activity.broadcast.name if activity.broadcast is not None else "",
        activity.metadata_text("reason"),
        activity.metadata_text("feedback"),
        json.dumps(metadata, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if metadata else "",
    ]
    return [safe_cell(cell) for cell in cells]


def closing_lines(progress: ExportProgress) -> list[str]:
    """What the file must still say: items left out, old copies, and last of all why it stopped short."""
    lines = []
    if progress.skipped:
        lines.append(
            f"Note: {progress.skipped} entr{'y' if progress.skipped == 1 else 'ies'} from Invent could not be read "
            "and are not in this export."
        )
    if progress.stale:
        lines.append("Note: Invent was not answering for part of this export, so some pages come from a recent copy.")
    if not progress.complete:
        lines.append(f"Export incomplete: {progress.stopped.rstrip('.')}; stopped after {progress.count} activities.")
    return lines


class _Echo:
    """The file csv.writer writes to: it hands each row back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(export: TimelineExport) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for activity in export:
        yield writer.writerow(csv_cells(activity))
    for line in closing_lines(export.progress):
        yield writer.writerow([safe_cell(line)])


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return utc_iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def record(activity: Activity) -> dict[str, Any]:
    """The typed record as JSON: every field, nested records as objects, times in UTC, and who did it."""
    return {"actor_kind": activity.actor_kind, **dataclasses.asdict(activity)}


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_value)


def json_lines(export: TimelineExport, *, filters: Mapping[str, Sequence[str]], exported_at: datetime) -> Iterator[str]:
    """One JSON document, one activity a line, and what became of the export on the last line."""
    head = {"org_id": export.org_id, "contact_id": export.contact_id, "exported_at": utc_iso(exported_at),
            "filters": {key: list(values) for key, values in filters.items()}}  # fmt: skip
    yield _dumps(head)[:-1] + ', "activities": ['
    separator = "\n"
    for activity in export:
        yield separator + _dumps(record(activity))
        separator = ",\n"
    progress = export.progress
    tail: dict[str, object] = {"count": progress.count, "skipped": progress.skipped, "complete": progress.complete}
    if closing := closing_lines(progress):
        tail["notes"] = closing
    yield "\n], " + _dumps(tail)[1:] + "\n"


def chunked(lines: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Lines gathered into pieces of about `size` characters (a piece is never held back longer than that)."""
    pending: list[str] = []
    length = 0
    for line in lines:
        pending.append(line)
        length += len(line)
        if length >= size:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)


def export_response(
    export: TimelineExport | None, *, file_format: ExportFormat, filename: str, filters: Mapping[str, Sequence[str]],
    exported_at: datetime,
) -> HttpResponseBase:  # fmt: skip
    """The file, streamed while the export is read; None: its headers alone (a HEAD)."""
    response: HttpResponseBase
    if export is None:
        response = HttpResponse(content_type=CONTENT_TYPES[file_format])
    else:
        lines = csv_lines(export) if file_format == "csv" else json_lines(export, filters=filters,
                                                                          exported_at=exported_at)  # fmt: skip
        response = StreamingHttpResponse(chunked(lines), content_type=CONTENT_TYPES[file_format])
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
