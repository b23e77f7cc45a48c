"""Start and stop real server processes: the demo Invent over HTTP and the dashboard, each in its own gunicorn.

Shared by the benchmark and by the tests against real services. Every process
is started by us, bound to 127.0.0.1 on a free port, and stopped by its PID.
"""

from __future__ import annotations

import html.parser
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
DASHBOARD_APP = "timeline_site.wsgi:application"
DEMO_APP = "timeline_site.demo_invent.wsgi:application"
STAFF_USERNAME = "bench-agent"
STAFF_PASSWORD = "bench-agent-password-" + "x" * 8  # a throwaway account in a throwaway database
STARTUP_SECONDS = 30
STOP_SECONDS = 10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(*, database_url: str, static_root: Path, redis_url: str = "", key_prefix: str = "") -> dict[str, str]:
    """Production settings (DEBUG off) relaxed for plain HTTP on loopback, on a database and static root of our own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVENT_", "DEMO_INVENT_", "DJANGO_", "GUNICORN_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="timeline_site.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_SECURE_HSTS_SECONDS="0",
        DATABASE_URL=database_url,
        DJANGO_STATIC_ROOT=str(static_root),
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=key_prefix or "bench-" + secrets.token_hex(4),
        INVENT_API_URL="",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: Mapping[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 (our own interpreter and manage.py, fixed arguments)
        [sys.executable, "manage.py", *args], cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare_database(env: Mapping[str, str]) -> None:
    """Migrate, seed the demo Invent's data and create a staff account that may read both demo orgs."""
    demo_env = {**env, "INVENT_API_URL": ""}  # demo_setup seeds only while the demo is the upstream
    manage(demo_env, "migrate", "--noinput", "--verbosity", "0")
    manage(demo_env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(demo_env, "demo_setup")
    manage(
        demo_env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"u, _ = get_user_model().objects.get_or_create(username={STAFF_USERNAME!r}); "
        f"u.set_password({STAFF_PASSWORD!r}); u.save()",
    )
    manage(demo_env, "grant_org_access", STAFF_USERNAME, "northwind", "northwind-emea")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_gunicorn(
    *,
    name: str,
    app: str,
    env: Mapping[str, str],
    log_dir: Path,
    workers: int = 1,
    threads: int = 8,
    access_log: Path | None = None,
) -> Server:
    port = free_port()
    log_path = log_dir / f"{name}.log"
    run_env = {**env, "GUNICORN_ACCESS_LOG": str(access_log) if access_log else "-"}
    command = [
        str(GUNICORN),
        app,
        "--config",
        str(REPO / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    with log_path.open("wb") as log:
        # A session of its own, so a Ctrl-C in the terminal reaches us, and we stop it.
        process = subprocess.Popen(  # noqa: S603 (the venv's gunicorn, fixed arguments)
            command, cwd=REPO, env=run_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name=name, process=process, url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        wait_until_up(server)
    except BaseException:
        stop(server)
        raise
    return server


def wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start within {STARTUP_SECONDS} s:\n{server.log()[-3000:]}")


def stop(server: Server) -> None:
    """Quick shutdown (SIGINT), then SIGKILL to its own process group if it lingers."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group we created for it: its workers only
            process.wait(timeout=STOP_SECONDS)


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            stop(server)


def sign_in(base_url: str, *, username: str = STAFF_USERNAME, password: str = STAFF_PASSWORD) -> requests.Session:
    """A session signed in through the real login form (CSRF token included)."""
    session = requests.Session()
    login_url = f"{base_url}/accounts/login/"
    page = session.get(login_url, timeout=10)
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if match is None:
        raise RuntimeError("The login page has no CSRF token")
    response = session.post(
        login_url,
        data={"csrfmiddlewaretoken": match.group(1), "username": username, "password": password, "next": "/"},
        headers={"Referer": login_url},
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"Sign-in failed with HTTP {response.status_code}")
    return session


class _FirstAttribute(html.parser.HTMLParser):
    """The first value of `attribute` on a `tag` element with class `css_class` (entities decoded)."""

    def __init__(self, tag: str, css_class: str, attribute: str) -> None:
        super().__init__()
        self.tag, self.css_class, self.attribute = tag, css_class, attribute
        self.value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == self.tag and self.css_class in (values.get("class") or "").split() and self.value is None:
            self.value = values.get(self.attribute)


def _first_attribute(page_html: str, tag: str, css_class: str, attribute: str) -> str | None:
    parser = _FirstAttribute(tag, css_class, attribute)
    parser.feed(page_html)
    return parser.value


def older_link(page_html: str) -> str | None:
    """The "Older activities" link (its signed `cursor=` names the next page), or None at the end of the timeline."""
    return _first_attribute(page_html, "a", "older", "href")


def spans_loader_url(page_html: str) -> str | None:
    """The URL htmx asks once a page is on screen for its state spans (and, on a first page, the header's state)."""
    return _first_attribute(page_html, "div", "spans-loader", "data-hx-get")


def first_position(page_html: str) -> int | None:
    """The first card's aria-posinset: 1 on page 1, 4951 on page 100 of 50-card pages."""
    match = re.search(r'aria-posinset="([0-9]+)"', page_html)
    return int(match.group(1)) if match else None


def article_count(page_html: str) -> int:
    return page_html.count("data-activity-id=")


def server_timing(header: str) -> dict[str, float]:
    """{'upstream': 21.3, 'app': 2.1, ...} from a Server-Timing header."""
    timings: dict[str, float] = {}
    for metric in header.split(","):
        name, _, params = metric.strip().partition(";")
        match = re.search(r"(?:^|;)dur=([0-9.]+)", params)
        if name and match:
            timings[name] = float(match.group(1))
    return timings


UPSTREAM_REQUEST = b'"GET /orgs/'  # one demo access-log line per upstream call (gunicorn.conf.py's format)
LOG_SETTLE_POLLS = 20
LOG_SETTLE_SECONDS = 0.2


def log_size(log: Path) -> int:
    """The log's size once it has stopped growing (a bounded few polls): the demo writes a call's line just
    after its response, so the dashboard may have answered a request before its last upstream line lands."""
    size, previous = 0, -1
    for _ in range(LOG_SETTLE_POLLS):
        size = log.stat().st_size if log.exists() else 0
        if size == previous:
            break
        previous = size
        time.sleep(LOG_SETTLE_SECONDS)
    return size


def upstream_lines_since(log: Path, start: int) -> int:
    """Upstream calls logged by the demo since byte `start`. Log lines land just after their responses,
    so this waits (a bounded few polls) until the count stops moving."""
    counted, previous = 0, -1
    for _ in range(LOG_SETTLE_POLLS):
        counted = log.read_bytes()[start:].count(UPSTREAM_REQUEST) if log.exists() else 0
        if counted == previous:
            break
        previous = counted
        time.sleep(LOG_SETTLE_SECONDS)
    return counted


def dashboard_env(env: Mapping[str, str], *, upstream_url: str, budget: int, **more: str) -> dict[str, str]:
    """A dashboard reading the demo Invent at `upstream_url` over HTTP, with a budget that never refuses."""
    return {
        **env,
        "INVENT_API_URL": upstream_url,
        "INVENT_API_KEY": "demo",
        "INVENT_BUDGET_PER_MINUTE": str(budget),
        "INVENT_BUDGET_PER_USER_PER_MINUTE": str(budget),
        **more,
    }
