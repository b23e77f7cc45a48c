"""Request logs without query strings, Permissions-Policy, the demo account next to a real
Invent, and the README's demo commands in a fresh shell."""

from __future__ import annotations

import logging
import os
import runpy
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from gunicorn.config import Config
from gunicorn.glogging import Logger

from timeline_site.core.auth import DEMO_USERNAME
from timeline_site.core.env import demo_management_command
from timeline_site.timeline.models import TimelineView

ROOT = Path(__file__).resolve().parent.parent
SEARCH = "/?q=ada.lovelace%40example.com&org=northwind"


# --- Request logs --------------------------------------------------------------------


def test_gunicorn_access_log_has_the_path_but_no_query_string() -> None:
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": SEARCH,
        "PATH_INFO": "/",
        "QUERY_STRING": SEARCH.split("?", 1)[1],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_USER_AGENT": "pytest",
        "HTTP_REFERER": f"https://timeline.example.com{SEARCH}",
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    atoms = Logger(Config()).atoms(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12))
    line = conf["access_log_format"] % atoms
    assert '"GET / HTTP/1.1" 200 512 12ms' in line
    assert "lovelace" not in line and "q=" not in line


def test_runserver_request_log_has_the_path_but_no_query_string() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Keep()
    server_log = logging.getLogger("django.server")
    server_log.addHandler(handler)
    try:
        request_handler = WSGIRequestHandler.__new__(WSGIRequestHandler)  # as runserver would log a request
        request_handler.requestline = f"GET {SEARCH} HTTP/1.1"
        request_handler.request = None  # type: ignore[assignment]
        request_handler.log_request(200, 512)
        request_handler.requestline = "GET /orgs/northwind/contacts/ct_ada/?type=note HTTP/1.1"
        request_handler.log_request(200, 512)
    finally:
        server_log.removeHandler(handler)
    assert records == ['"GET / HTTP/1.1" 200 512', '"GET /orgs/northwind/contacts/ct_ada/ HTTP/1.1" 200 512']


# --- Headers -------------------------------------------------------------------------


@pytest.mark.django_db
def test_permissions_policy_switches_off_powerful_features(staff_client: Client, client: Client) -> None:
    for response in (staff_client.get("/orgs/northwind/contacts/ct_ada/"), client.get("/accounts/login/")):
        policy = {p.strip() for p in response["Permissions-Policy"].split(",")}
        assert {"camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"} <= policy


# --- The demo account next to a real Invent ------------------------------------------------


@pytest.mark.django_db
def test_demo_setup_with_a_real_invent_switches_an_audited_demo_account_off(settings: Any) -> None:
    quiet: dict[str, Any] = {"verbosity": 0, "stdout": open(os.devnull, "w")}  # noqa: SIM115
    call_command("demo_setup", **quiet)
    demo = get_user_model().objects.get(username=DEMO_USERNAME)
    TimelineView.objects.create(user=demo, org_id="northwind", contact_id="ct_ada", contact_name="Ada")
    settings.DEMO_INVENT_ENABLED = False
    call_command("demo_setup", **quiet)  # `make serve` runs it on every start
    call_command("demo_setup", **quiet)
    demo.refresh_from_db()
    assert not demo.is_active and not demo.has_usable_password()
    assert TimelineView.objects.filter(user=demo).count() == 1  # the audit trail is kept


# --- The README's demo commands in a fresh shell ------------------------------------------


@pytest.mark.parametrize(
    ("argv", "demo", "allowed"),
    [
        (["manage.py", "demo_invent_set_behaviour", "--org", "northwind"], True, True),
        (["/srv/app/manage.py", "migrate"], True, True),
        (["manage.py", "migrate"], False, False),  # a real Invent: production rules
        (["manage.py", "runserver"], True, False),  # serves sessions signed with the key
        (["manage.py", "check", "--deploy"], True, False),
        (["/venv/bin/gunicorn", "timeline_site.wsgi"], True, False),
        (["manage.py"], True, False),
    ],
)
def test_which_command_lines_may_use_a_throwaway_key(argv: list[str], demo: bool, allowed: bool) -> None:
    assert demo_management_command(argv, demo_upstream=demo) is allowed


def _fresh_shell(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    # Like `env -i HOME=$HOME PATH=/usr/bin:/bin`, plus a database of the test's own.
    env = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/bin:/bin"}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DJANGO_STATIC_ROOT=str(tmp_path / "static"))
    env.update(extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_readme_demo_commands_run_in_a_fresh_shell(tmp_path: Path) -> None:
    for command in (
        ["migrate", "--noinput", "--verbosity", "0"],
        ["demo_setup"],
        ["demo_invent_add_activity", "--org", "northwind", "--contact", "ct_ada", "--count", "3"],
        ["demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_ada", "normal"],
    ):
        result = _fresh_shell(tmp_path, *command)
        assert result.returncode == 0, (command, result.stdout + result.stderr)


def test_production_still_refuses_a_missing_secret_key(tmp_path: Path) -> None:
    real_invent = _fresh_shell(tmp_path, "migrate", "--noinput", INVENT_API_URL="https://api.useinvent.com")
    assert real_invent.returncode != 0 and "DJANGO_SECRET_KEY is not set" in real_invent.stderr
    vetting = _fresh_shell(tmp_path, "check", "--deploy")
    assert vetting.returncode != 0 and "DJANGO_SECRET_KEY is not set" in vetting.stderr
