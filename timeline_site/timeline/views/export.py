"""The whole timeline as a CSV or JSON file, streamed as it is read."""

from __future__ import annotations

import logging

from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from timeline_site.invent.errors import (
    InventError,
)
from timeline_site.invent.export import start_export
from timeline_site.timeline.audit import record_export
from timeline_site.timeline.export_files import export_response
from timeline_site.timeline.forms import (
    TimelineExportForm,
)
from timeline_site.timeline.query import TimelineQuery
from timeline_site.timeline.views.common import (
    HtmxHttpRequest,
    bad_request,
    contact_access,
    failure_page,
)

logger = logging.getLogger(__name__)


@require_safe
@never_cache
@contact_access
def contact_export(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponseBase:
    """The whole timeline under the page's filters, as a CSV or JSON file streamed while it is read.
    Its first page is read before answering, so a failure there is an error page, not a broken file."""
    form = TimelineExportForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    query = TimelineQuery(org_id, contact_id, list(data.get("type", [])), None, tuple(data.get("by", [])))
    if form.errors:
        return bad_request(request, query, form)
    now = timezone.now()
    filename = f"{contact_id}-timeline-{timezone.localdate(now):%Y-%m-%d}.{data['format']}"
    filters = {"type": query.types, "by": list(query.actors)}
    if request.method == "HEAD":  # a link checker: the headers alone, and nobody took a copy
        return export_response(None, file_format=data["format"], filename=filename, filters=filters, exported_at=now)
    try:
        export = start_export(org_id=org_id, contact_id=contact_id, types=query.types, actors=query.actors)
    except InventError as exc:
        return failure_page(request, query, exc)
    record_export(request, org_id=org_id, contact_id=contact_id)
    return export_response(export, file_format=data["format"], filename=filename, filters=filters, exported_at=now)
