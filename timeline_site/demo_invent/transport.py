"""In-process transport: `requests` talks to the demo Invent without a socket.

    session.mount("http://demo-invent.internal/", DemoInventAdapter())

The client code path (URL building, headers, status handling, JSON parsing) is
exactly the one used against the real Invent; only the bytes never leave the process.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Mapping
from datetime import timedelta
from http import HTTPStatus
from time import perf_counter
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from timeline_site.demo_invent.app import PUBLIC_BASE_KEY, application
from timeline_site.demo_invent.public import PUBLIC_BASE

__all__ = ["PUBLIC_BASE", "DemoInventAdapter"]


class DemoInventAdapter(BaseAdapter):
    def __init__(self, public_base: str = PUBLIC_BASE) -> None:
        super().__init__()
        self.public_base = public_base

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        started = perf_counter()
        environ = self.environ(request)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        chunks = application(environ, start_response)
        body = b"".join(chunks)
        return self.build_response(request, captured["status"], captured["headers"], body, perf_counter() - started)

    def close(self) -> None:
        pass

    def environ(self, request: requests.PreparedRequest) -> dict[str, Any]:
        url = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method or "GET",
            "SCRIPT_NAME": "",
            # WSGI carries the percent-decoded path as latin-1 "bytes in a str".
            "PATH_INFO": unquote_to_bytes(url.path or "/").decode("latin-1"),
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_HOST": url.netloc,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            PUBLIC_BASE_KEY: self.public_base,
        }
        for name, raw_value in request.headers.items():
            key = name.upper().replace("-", "_")
            value = raw_value.decode("latin-1") if isinstance(raw_value, bytes) else raw_value
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        return environ

    def build_response(
        self,
        request: requests.PreparedRequest,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes,
        elapsed: float,
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else HTTPStatus(response.status_code).phrase
        response.headers = CaseInsensitiveDict(headers)
        response._content = body
        response.raw = io.BytesIO(body)
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = request.url or ""
        response.request = request
        response.elapsed = timedelta(seconds=elapsed)
        return response
