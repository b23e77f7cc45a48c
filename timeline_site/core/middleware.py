"""The site's own middleware: the client's address behind a proxy, sign-in for
htmx requests, the viewer's time zone and the Permissions-Policy header.

The browser reports its IANA zone in the `tz` cookie (static/js/app.js); an
absent or unknown zone falls back to UTC, which the page then says.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase, HttpResponseRedirectBase
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

    def handle_no_permission(  # type: ignore[override]  # htmx gets a client-side redirect
        self, request: HttpRequest, view_func: Callable[..., HttpResponseBase]
    ) -> HttpResponseRedirectBase:
        if getattr(request, "htmx", False):
            current = request.htmx.current_url_abs_path or "/"  # type: ignore[attr-defined]
            if not url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()}):
                current = "/"
            response = super().handle_no_permission(request, view_func)
            login_url = response["Location"].split("?", 1)[0]
            return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': current}, safe='/')}")
        return super().handle_no_permission(request, view_func)


def _networks(entries: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


class ClientAddressMiddleware:
    """Behind a load balancer every request comes from the balancer's address; the
    sign-in throttle and the audit trail need the client's. When the request comes
    from a trusted proxy (DJANGO_TRUSTED_PROXIES), the client is the right-most
    X-Forwarded-For entry that is not itself a trusted proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.networks = _networks(settings.TRUSTED_PROXIES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        remote = request.META.get("REMOTE_ADDR", "")
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if self.networks and forwarded and _trusted(remote, self.networks):
            for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
                if not _trusted(hop, self.networks):
                    # A forged, malformed entry keeps the proxy's address.
                    with contextlib.suppress(ValueError):
                        request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(hop))
                    break
        return self.get_response(request)


# Browser features the dashboard never uses, switched off for it and for anything
# that might ever be framed in it. Only names Chromium knows: an unknown one is
# logged as a console error on every page. Clipboard access (the copy buttons)
# stays at the browser's default.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


class PermissionsPolicyMiddleware:
    """Django has no setting for Permissions-Policy (6.1's SecurityMiddleware sends none)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
