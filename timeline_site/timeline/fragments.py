"""A short-lived cache of rendered htmx fragments.

A fragment (the next page of a timeline, or the timeline under a filter) is the
same for everyone allowed to see that org in the same time zone, so a repeat
within the upstream cache lifetime is answered from here: no upstream read, no
template rendering, and no compression either, since the gzip form is stored
beside the plain one. Access is checked by the view before this is asked.
"""

from __future__ import annotations

import gzip
import hashlib
import re

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

ACCEPTS_GZIP = re.compile(r"\bgzip\b")


def fragment_key(request: HttpRequest, partial: str) -> str:
    """Path and query (hashed to bound the key; ids are validated), partial and time zone. Nothing secret."""
    query = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    return f"fragment:v1:{partial}:{timezone.get_current_timezone_name()}:{query}"


def _fragment_response(request: HttpRequest, plain: bytes, compressed: bytes) -> HttpResponse:
    if ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
        response = HttpResponse(compressed)
        response["Content-Encoding"] = "gzip"  # GZipMiddleware leaves an encoded response alone
    else:
        response = HttpResponse(plain)
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


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
    cache.set(key, (body, compressed), timeout=settings.INVENT_CACHE_SECONDS)
    return _fragment_response(request, body, compressed)
