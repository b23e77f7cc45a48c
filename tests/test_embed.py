"""The dashboard inside a CRM: framing allowed only for DJANGO_FRAME_ANCESTORS, the compact layout, and
what a frame that loses the cookies says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import Resolver404, resolve, reverse

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])
HOSTILE = reverse("contact_timeline", args=["northwind", "ct_hostile"])
CRM = "https://crm.example.com"

# Settings are read at import: a fresh process with its own database signs in through the real
# form inside a "frame" (Sec-Fetch-Dest: iframe, over HTTPS with Secure cookies, as in production)
# and reports the headers of the sign-in page, the sign-in itself and a timeline.
_FRAMED_SESSION = """
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.test import Client
from timeline_site.demo_invent.seed import seed_demo
from timeline_site.timeline.models import OrgAccess
seed_demo()
user = get_user_model().objects.create_user("agent", password="agent-pass-123")
OrgAccess.objects.create(user=user, org_id="northwind")
browser = Client(enforce_csrf_checks=True, headers={"Sec-Fetch-Dest": "iframe"})

def seen(response):
    cookies = {name: {"samesite": m["samesite"], "secure": bool(m["secure"])} for name, m in response.cookies.items()}
    return {"status": response.status_code, "location": response.get("Location"),
            "csp": response.get("Content-Security-Policy"), "xfo": response.get("X-Frame-Options"),
            "cookies": cookies, "embed": b'<html lang="en" class="embed">' in response.content}

login = browser.get("/accounts/login/?next=/orgs/northwind/contacts/ct_ada/", secure=True)
token = browser.cookies["csrftoken"].value
signed_in = browser.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123",
                         "next": "/orgs/northwind/contacts/ct_ada/", "csrfmiddlewaretoken": token},
                         headers={"Origin": "https://testserver"}, secure=True)
timeline = browser.get("/orgs/northwind/contacts/ct_ada/", secure=True)
print("RESULT " + json.dumps({"login": seen(login), "signed_in": seen(signed_in), "timeline": seen(timeline)}))
"""


def _framed_session(tmp_path: Path, frame_ancestors: str | None) -> dict[str, dict[str, Any]]:
    env = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/bin:/bin"}
    env.update(
        DJANGO_SETTINGS_MODULE="timeline_site.settings",
        DJANGO_SECRET_KEY="framing-test-only-secret-key-0123456789-abcdefghijklmnop",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="testserver",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_STATIC_ROOT=str(settings.STATIC_ROOT),  # the manifest the session fixture built
        DJANGO_LOG_LEVEL="WARNING",
    )
    if frame_ancestors is not None:
        env["DJANGO_FRAME_ANCESTORS"] = frame_ancestors
    result = subprocess.run(
        [sys.executable, "-c", _FRAMED_SESSION],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, result.stdout + result.stderr
    return dict(json.loads(line.removeprefix("RESULT ")))


def _frame_ancestors(csp: str | None) -> str:
    directives = dict(d.strip().split(" ", 1) for d in (csp or "").split(";") if d.strip())
    return directives.get("frame-ancestors", "")


def test_with_frame_ancestors_only_that_crm_may_frame_every_page_and_sign_in_works_there(tmp_path: Path) -> None:
    seen = _framed_session(tmp_path, CRM)
    for page in ("login", "signed_in", "timeline"):
        assert _frame_ancestors(seen[page]["csp"]) == CRM, page  # that origin and no other
        assert seen[page]["xfo"] is None, page  # X-Frame-Options cannot say "this CRM": not sent
    assert seen["login"]["status"] == 200 and seen["login"]["embed"]
    # The sign-in form posted from the frame (CSRF and all) and came back to the page it was for,
    # with cookies a third-party frame keeps.
    assert seen["signed_in"]["status"] == 302 and seen["signed_in"]["location"] == ADA
    assert seen["login"]["cookies"]["csrftoken"] == {"samesite": "None", "secure": True}
    assert seen["signed_in"]["cookies"]["sessionid"] == {"samesite": "None", "secure": True}
    assert seen["timeline"]["status"] == 200 and seen["timeline"]["embed"]


def test_without_frame_ancestors_nobody_may_frame_the_dashboard(tmp_path: Path) -> None:
    seen = _framed_session(tmp_path, None)
    for page in ("login", "signed_in", "timeline"):
        assert _frame_ancestors(seen[page]["csp"]) == "'none'", page
        assert seen[page]["xfo"] == "DENY", page
    assert seen["login"]["cookies"]["csrftoken"]["samesite"] == "Lax"


# --- The compact layout ---------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def links_of(page: str) -> list[dict[str, str | None]]:
    parser = _Links()
    parser.feed(page)
    return parser.links


def _stays_in_the_dashboard(href: str) -> bool:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return False
    try:
        match = resolve(parts.path)
    except Resolver404:
        return False
    return match.app_name != "demo_invent"  # the demo's files stand in for Invent's file hosts


@pytest.mark.parametrize(
    "asked",
    [{"query": "embed=1"}, {"headers": {"Sec-Fetch-Dest": "iframe"}}],
    ids=["embed=1", "in a frame"],
)
def test_embedded_pages_drop_the_site_bar_for_a_compact_one(staff_client: Client, asked: dict[str, Any]) -> None:
    query = asked.get("query", "")
    page = staff_client.get(f"{ADA}?{query}" if query else ADA, headers=asked.get("headers")).content.decode()
    assert page.startswith('<!doctype html>\n<html lang="en" class="embed">')
    full_tab = next(a for a in links_of(page) if "full-tab" in (a.get("class") or ""))
    assert full_tab["href"] == ADA and full_tab["target"] == "_blank"  # the same page, without embed


def test_an_ordinary_page_is_not_embedded(staff_client: Client) -> None:
    page = staff_client.get(ADA, headers={"Sec-Fetch-Dest": "document"}).content.decode()
    assert '<html lang="en">' in page and 'class="embed"' not in page


def test_the_full_tab_link_keeps_the_rest_of_the_query(staff_client: Client) -> None:
    page = staff_client.get(f"{ADA}?type=note_created&embed=1&type=file_uploaded").content.decode()
    full_tab = next(a for a in links_of(page) if "full-tab" in (a.get("class") or ""))
    href = str(full_tab["href"]).replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"type": ["note_created", "file_uploaded"]}


@pytest.mark.parametrize("timeline", [ADA, HOSTILE])
def test_every_link_that_leaves_the_dashboard_opens_a_new_tab(staff_client: Client, timeline: str) -> None:
    page = staff_client.get(f"{timeline}?embed=1&inline=1").content.decode()
    links = [a for a in links_of(page) if a.get("href") and not str(a["href"]).startswith("#")]
    leaving = [a for a in links if not _stays_in_the_dashboard(str(a["href"]))]
    assert leaving, "the page has links out (files, links in notes)"
    assert [a["href"] for a in leaving if a.get("target") != "_blank"] == []
    assert all("noopener" in str(a.get("rel")) for a in leaving)
    inside = [a for a in links if _stays_in_the_dashboard(str(a["href"])) and "full-tab" not in (a.get("class") or "")]
    assert inside and [a["href"] for a in inside if a.get("target")] == []  # the dashboard's own stay in the frame


def test_a_lookup_from_a_frame_keeps_the_compact_layout(staff_client: Client) -> None:
    response = staff_client.get("/orgs/northwind/lookup/", {"email": "ada@analytical.example", "embed": "1"})
    assert response["Location"] == f"{ADA}?embed=1"
    page = staff_client.get("/orgs/northwind/lookup/", {"email": "x@example.org", "embed": "1"}).content.decode()
    assert 'class="embed"' in page


def test_a_frame_that_dropped_the_cookies_says_why_and_offers_a_new_tab(client: Client, staff_user: Any) -> None:
    framed = Client(enforce_csrf_checks=True, headers={"Sec-Fetch-Dest": "iframe"})
    response = framed.post(
        "/accounts/login/", {"username": "agent", "password": "agent-pass-123", "next": "/orgs/northwind/lookup/?x=1"}
    )
    page = response.content.decode()
    assert response.status_code == 403 and "data-csrf-failure" in page
    way_out = next(a for a in links_of(page) if a.get("class") == "button")
    assert way_out["target"] == "_blank"
    assert way_out["href"] == "/accounts/login/?next=%2Forgs%2Fnorthwind%2Flookup%2F%3Fx%3D1"
    off_site = framed.post("/accounts/login/", {"next": "https://evil.example/"}).content.decode()
    assert re.search(r'class="button" href="/accounts/login/"', off_site)
