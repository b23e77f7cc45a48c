"""The dashboard inside a CRM: the compact layout, and what to do when the frame loses the cookies.

A page is embedded when the link says `?embed=1`, or when the browser says it is loading the page in
a frame (`Sec-Fetch-Dest: iframe`, sent by every current browser). The second keeps the compact layout
on every page opened inside the frame without carrying `embed=1` through every link, form and htmx
request, and without remembering it in the session, which the same person's ordinary tab shares.
Where neither applies, static/js/app.js still sets the same class on <html> when the page is framed.

Whether a frame may show the dashboard at all is DJANGO_FRAME_ANCESTORS (settings: CSP frame-ancestors).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

EMBED_PARAM = "embed"
FRAME_DESTINATIONS = frozenset({"iframe", "frame"})


def is_embedded(request: HttpRequest) -> bool:
    if request.GET.get(EMBED_PARAM) == "1":
        return True
    return request.headers.get("Sec-Fetch-Dest", "") in FRAME_DESTINATIONS


def full_tab_url(request: HttpRequest) -> str:
    """This page outside the frame: the same URL without `embed`."""
    query = request.GET.copy()
    query.pop(EMBED_PARAM, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def embed(request: HttpRequest) -> dict[str, object]:
    """Context processor: `embed` (the compact layout) and `full_tab_url` (its way out to a full tab)."""
    return {"embed": is_embedded(request), "full_tab_url": full_tab_url(request)}


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form came back without the dashboard's cookie. Inside a CRM's frame that is a
    browser blocking third-party cookies (Safari does by default), and signing in there can never work:
    say so, and offer the same page in a tab of its own, where it does."""
    target = request.POST.get("next", "") if request.method == "POST" else ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    retry = f"{reverse('login')}?{urlencode({'next': target})}" if target else reverse("login")
    return render(request, "csrf_failure.html", {"retry_url": retry}, status=403)
