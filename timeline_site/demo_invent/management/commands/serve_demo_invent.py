from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from timeline_site.demo_invent.app import set_latency_ms
from timeline_site.demo_invent.server import make_demo_server, server_url


class Command(BaseCommand):
    help = "Serve the demo Invent API over HTTP (threaded wsgiref server, for development and tests)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--latency-ms", type=int, default=None, help="added to every API call")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["latency_ms"] is not None:
            set_latency_ms(options["latency_ms"])
        server = make_demo_server(options["host"], options["port"])
        url = server_url(server)
        self.stdout.write(f"Demo Invent on {url}  (INVENT_API_URL={url}, key: DEMO_INVENT_API_KEY)")
        if settings.DEMO_INVENT_API_KEY == "demo":
            self.stdout.write("The API key is the default: demo")
        self.stdout.write("Quit with Ctrl-C.")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            server.server_close()
