"""A small threaded HTTP server for the demo Invent (used by `serve_demo_invent` and tests)."""

from __future__ import annotations

import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from timeline_site.demo_invent.app import application, with_db_cleanup


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    # A slow or stuck client thread must not keep the process alive on Ctrl-C.
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_demo_server(host: str = "127.0.0.1", port: int = 0, *, quiet: bool = False) -> ThreadingWSGIServer:
    """Bind (port 0 picks a free one); call `serve_forever()` on the result."""
    handler = QuietHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, with_db_cleanup(application), ThreadingWSGIServer, handler)
    assert isinstance(server, ThreadingWSGIServer)
    return server


def server_url(server: WSGIServer) -> str:
    host = server.server_address[0]
    if isinstance(host, bytes):
        host = host.decode()
    return f"http://{host}:{server.server_port}"
