"""Render times in the viewer's own time zone.

The browser reports its IANA zone in the `tz` cookie (static/js/app.js); an
absent or unknown zone falls back to UTC, which the page then says.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlencode

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

TZ_COOKIE = "tz"
TZ_NAME = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not TZ_NAME.fullmatch(name) or ".." in name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ViewerTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = _zone(request.COOKIES.get(TZ_COOKIE, ""))
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class HtmxAwareLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, except that an htmx request whose session
    has expired sends the whole page to the sign-in form (and back here after),
    instead of having the sign-in page swapped into the timeline."""

    def handle_no_permission(self, request: HttpRequest, view_func: Callable[..., HttpResponse]) -> HttpResponse:
        if getattr(request, "htmx", False):
            current = request.htmx.current_url_abs_path or "/"  # type: ignore[attr-defined]
            if not url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()}):
                current = "/"
            response = super().handle_no_permission(request, view_func)
            login_url = response["Location"].split("?", 1)[0]
            return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': current}, safe='/')}")
        return super().handle_no_permission(request, view_func)
