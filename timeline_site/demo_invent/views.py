"""The demo's public files, served by the dashboard itself for the in-process demo."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from timeline_site.demo_invent.assets import CACHE_CONTROL, get_asset


@login_not_required  # a public file CDN in the real Invent, and <img> tags send no session anyway
@require_safe
def asset(request: HttpRequest, name: str) -> HttpResponse:
    found = get_asset(name)
    if found is None:
        raise Http404("No such demo asset")
    response = HttpResponse(found.body, content_type=found.content_type)
    response["Cache-Control"] = CACHE_CONTROL
    return response
