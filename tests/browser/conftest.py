"""Real-browser tests: the production app under gunicorn, driven by the system Chromium.

One gunicorn process serves the whole session from its own SQLite file (seeded
demo Invent, demo/demo sign-in, WhiteNoise manifest static files). Tests change
the upstream mid-test with the demo's real management commands against that
same database; the running server sees the change on its next upstream call.

Contacts a test changes belong to that test alone: test_paging.py pads and
mutates northwind/ct_olivia, northwind/ct_priya and northwind-emea/ct_hannah;
test_place_browser.py pads northwind/ct_kwame (new activity while its page is
open) and northwind/ct_sven, and adds to northwind-emea/ct_chiara (both also
rely on the demo user's own audit trail for them: new since the last visit);
ct_heavy, ct_ada, ct_empty, ct_hostile and ct_bruno are read-only for everyone
(the server caches upstream pages, so a change would leak into other tests).

Every page a test opens is watched: any console error, uncaught page error or
JavaScript dialog fails the test (see `BrowserWatch`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
TIME_ZONE = "Europe/Lisbon"  # not UTC, so the time-zone cookie path is exercised
STARTUP_SECONDS = 40
COMMAND_SECONDS = 120
ACTION_TIMEOUT_MS = 15_000  # Playwright's own 30 s makes a failing suite crawl


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class AppServer:
    base_url: str
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        """Run a manage.py command against the server's database; returns its stdout."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def timeline_url(self, org_id: str, contact_id: str, query: str = "") -> str:
        return f"{self.base_url}/orgs/{org_id}/contacts/{contact_id}/" + (f"?{query}" if query else "")

    def set_behaviour(self, org_id: str, contact_id: str, behaviour: str) -> None:
        self.manage("demo_invent_set_behaviour", "--org", org_id, "--contact", contact_id, behaviour)

    def add_activities(
        self, org_id: str, contact_id: str, count: int, activity_type: str = "note_created"
    ) -> list[str]:
        out = self.manage(
            "demo_invent_add_activity", "--org", org_id, "--contact", contact_id,
            "--count", str(count), "--type", activity_type,
        )  # fmt: skip
        return out.split()

    def pad(self, org_id: str, contact_id: str, batches: list[tuple[str, int]]) -> None:
        """Give a contact more activities, batch by batch, with the real `demo_invent_add_activity`
        command run in one process (one command per batch would cost a second each)."""
        code = (
            "import io\n"
            "from django.core.management import call_command\n"
            f"for activity_type, count in {batches!r}:\n"
            f"    call_command('demo_invent_add_activity', org={org_id!r}, contact={contact_id!r},\n"
            "                 count=count, type=activity_type, stdout=io.StringIO())\n"
        )
        self.manage("shell", "-c", code)

    def upstream_activities(self, org_id: str, contact_id: str) -> list[tuple[str, str, str]]:
        """(id, type, created_at) of the contact's activities straight from the demo Invent's database, newest first.

        Items the demo serves malformed on purpose (`_omit`) are left out: the
        dashboard rightly skips them.
        """
        code = (
            "import json\n"
            "from timeline_site.demo_invent.models import DemoActivity\n"
            f"rows = DemoActivity.objects.filter(contact__org_id={org_id!r}, contact__contact_id={contact_id!r})\n"
            "rows = rows.order_by('-created_at', '-activity_id')\n"
            "print(json.dumps([[r.activity_id, r.type, r.created_at.isoformat()] for r in rows\n"
            "                  if not r.data.get('_omit')]))\n"
        )
        last_line = self.manage("shell", "-c", code).strip().splitlines()[-1]
        return [
            (activity_id, activity_type, created_at) for activity_id, activity_type, created_at in json.loads(last_line)
        ]

    def upstream_ids(self, org_id: str, contact_id: str, types: tuple[str, ...] = ()) -> list[str]:
        return [i for i, t, _when in self.upstream_activities(org_id, contact_id) if not types or t in types]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    workdir = tmp_path_factory.mktemp("browser-app")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "timeline_site.settings",
        # A static root of our own: another test session's collectstatic must not rewrite it under us.
        "DJANGO_STATIC_ROOT": str(workdir / "static"),
        "DJANGO_SECRET_KEY": "browser-tests-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{workdir / 'app.sqlite3'}",
        "INVENT_API_URL": "",
        "REDIS_URL": "",
        # A file database: the demo is read in parallel, like a real Invent (pytest itself turns it off).
        "INVENT_PARALLEL_FETCH": "1",
        # One reader here scrolls a 5,200-activity timeline to its end in well under a minute (a person
        # reads about ten pages a minute): the per-user share would stop it, not what is tested.
        "INVENT_BUDGET_PER_USER_PER_MINUTE": "450",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    server = AppServer(base_url=f"http://127.0.0.1:{port}", env=env)
    server.manage("migrate", "--noinput", "--verbosity", "0")
    server.manage("demo_setup", "--base-url", server.base_url)
    server.manage("collectstatic", "--noinput", "--verbosity", "0")

    with gunicorn_serving(env, port=port, log_path=workdir / "gunicorn.log"):
        yield server


@contextlib.contextmanager
def gunicorn_serving(env: dict[str, str], *, port: int, log_path: Path) -> Iterator[None]:
    """The dashboard in a gunicorn of its own on 127.0.0.1:`port`, once /healthz answers; stopped after."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(gunicorn), "timeline_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /healthz in {STARTUP_SECONDS} s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- Playwright ------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the system `chromium` is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], app_server: AppServer) -> dict[str, Any]:
    return {**browser_context_args, "base_url": app_server.base_url, "timezone_id": TIME_ZONE, "locale": "en-GB"}


@dataclass
class BrowserWatch:
    """Console errors, page errors and dialogs of every page in a context."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.errors.append(f"page error: {error.error}"))
        context.on("page", lambda page: page.on("dialog", self._on_dialog))

    def allow(self, pattern: str) -> None:
        """Expect console errors matching `pattern` (e.g. the browser's own log of a deliberate 502)."""
        self.allowed.append(re.compile(pattern))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "assert"):
            return
        text = f"console {message.type}: {message.text} ({message.location.get('url', '')})"
        if not any(p.search(message.text) for p in self.allowed):
            self.errors.append(text)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.errors.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self) -> None:
        assert self.errors == [], "the browser reported problems:\n" + "\n".join(self.errors)


@pytest.fixture(scope="session")
def signed_in_state(
    browser: Browser, browser_context_args: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Sign in once through the real form as demo/demo; every test reuses the cookies."""
    path = tmp_path_factory.mktemp("browser-auth") / "state.json"
    watch = BrowserWatch()
    context = browser.new_context(**browser_context_args, viewport=DESKTOP)
    watch.attach(context)
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        page.get_by_label("User name").fill("demo")
        page.get_by_label("Password").fill("demo")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/$"))
        cookies = {cookie["name"] for cookie in context.cookies()}
        assert {"sessionid", "tz"} <= cookies, cookies
        context.storage_state(path=path)
        watch.assert_clean()
    finally:
        context.close()
    return path


OpenPage = Callable[..., Page]


_CALL_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed
    return report


@pytest.fixture
def watch(request: pytest.FixtureRequest) -> Iterator[BrowserWatch]:
    """Tests call `watch.assert_clean()` at their end; a test that passed is checked again here,
    so a forgotten call or an error logged after it still fails."""
    browser_watch = BrowserWatch()
    yield browser_watch
    if request.node.stash.get(_CALL_PASSED, False):
        browser_watch.assert_clean()
    elif browser_watch.errors:  # the test failed anyway: show what the browser said, it may be why
        request.node.add_report_section("teardown", "browser", "\n".join(browser_watch.errors))


@pytest.fixture
def open_page(new_context: Callable[..., BrowserContext], signed_in_state: Path, watch: BrowserWatch) -> OpenPage:
    """A fresh signed-in context and page: `open_page()` is desktop, `open_page(phone=True)` a touch phone."""

    def _open(*, phone: bool = False, signed_in: bool = True, **context_args: Any) -> Page:
        args: dict[str, Any] = {"viewport": PHONE if phone else DESKTOP}
        if phone:
            args.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        if signed_in:
            args["storage_state"] = signed_in_state
        context = new_context(**args, **context_args)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        watch.attach(context)
        return context.new_page()

    return _open


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    def _take(page: Page, name: str, *, full_page: bool = False) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)

    return _take
