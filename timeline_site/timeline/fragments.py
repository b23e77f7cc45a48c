"""A short-lived cache of rendered htmx fragments.

A fragment (the next page of a timeline, the timeline under a filter, a page's
spans) is the same for everyone allowed to see that org in the same time zone,
so a repeat within the upstream cache lifetime is answered from here: no
upstream read, no template rendering, and no compression either, since the gzip
form is stored beside the plain one. Access is checked by the view before this
is asked. Keys are made of the validated values only, so junk in a query
string cannot multiply entries.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from timeline_site.invent.cursor import Cursor, NewerCursor

ACCEPTS_GZIP = re.compile(r"\bgzip\b")


def fragment_key(
    partial: str, *, org_id: str, contact_id: str, types: Sequence[str], cursor: Cursor | NewerCursor | None,
    actors: Sequence[str] = (),
) -> str:  # fmt: skip
    """Partial, contact, filters, paging position (below or above: the cursor's own fields, not its signed
    token, which carries the time it was signed) and time zone, hashed to bound the key. Nothing secret."""
    parts = [partial, org_id, contact_id, ",".join(sorted(set(types))), ",".join(sorted(set(actors))), repr(cursor)]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"fragment:v2:{timezone.get_current_timezone_name()}:{digest}"


def _fragment_response(request: HttpRequest, plain: bytes, compressed: bytes, headers: dict[str, str]) -> HttpResponse:
    if ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
        response = HttpResponse(compressed)
        response["Content-Encoding"] = "gzip"  # GZipMiddleware leaves an encoded response alone
    else:
        response = HttpResponse(plain)
    for name, value in headers.items():
        response[name] = value
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


# Response headers a fragment needs again when it is answered from the cache (htmx reads them).
KEPT_HEADERS = ("HX-Reswap",)


def cached_fragment(request: HttpRequest, key: str) -> HttpResponse | None:
    if settings.INVENT_CACHE_SECONDS <= 0:
        return None
    stored = cache.get(key)
    return None if stored is None else _fragment_response(request, *stored)


def store_fragment(request: HttpRequest, key: str, response: HttpResponse) -> HttpResponse:
    """Keep a freshly rendered fragment, and answer with it as a repeat would be answered
    (compressed once, here, not again by GZipMiddleware)."""
    if settings.INVENT_CACHE_SECONDS <= 0 or response.status_code != 200:
        return response
    body = response.content
    compressed = gzip.compress(body, compresslevel=6, mtime=0)
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    cache.set(key, (body, compressed, headers), timeout=settings.INVENT_CACHE_SECONDS)
    return _fragment_response(request, body, compressed, headers)
