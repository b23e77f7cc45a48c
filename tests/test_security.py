"""Sign-in, per-organisation access, input checks, headers, hostile content, the key, the audit trail."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from timeline_site.core.auth import DEMO_PASSWORD, DEMO_USERNAME, MAX_FAILED_SIGN_INS, DashboardBackend
from timeline_site.timeline.models import OrgAccess, TimelineView

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])
HOSTILE = reverse("contact_timeline", args=["northwind", "ct_hostile"])


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def parse_tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    collector = _TagCollector()
    collector.feed(html)
    return collector.tags


# --- Sign-in ------------------------------------------------------------------


@pytest.mark.parametrize("url", [ADA, "/", "/admin/"])
def test_every_page_needs_sign_in_and_comes_back_after(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/") or response["Location"].startswith("/admin/login/")


def test_after_sign_in_the_user_lands_on_the_deep_link(client: Client, staff_user: Any) -> None:
    response = client.get(ADA)
    assert response["Location"] == f"/accounts/login/?next={ADA}"
    login = client.post(response["Location"], {"username": "agent", "password": "agent-pass-123", "next": ADA})
    assert login.status_code == 302 and login["Location"] == ADA


def test_sign_in_never_redirects_off_site(client: Client, staff_user: Any) -> None:
    for target in ["https://evil.test/x", "//evil.test/x", "/\\evil.test"]:
        client.logout()
        login = client.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123", "next": target})
        assert login.status_code == 302 and login["Location"] == "/"


def test_healthz_and_static_need_no_sign_in(client: Client, no_upstream: list[str]) -> None:
    assert client.get("/healthz").status_code == 200
    assert no_upstream == []


def test_expired_session_on_an_htmx_request_sends_the_page_to_sign_in(client: Client) -> None:
    response = client.get(ADA + "?pages=2", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{ADA}")
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next={ADA}"


def test_failed_sign_ins_are_throttled_with_a_clear_message(client: Client, staff_user: Any) -> None:
    for _ in range(MAX_FAILED_SIGN_INS):
        bad = client.post("/accounts/login/", {"username": "agent", "password": "wrong"})
        assert "Please enter a correct" in bad.content.decode()
    blocked = client.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123"})
    assert blocked.status_code == 200
    assert "Too many failed sign-ins" in blocked.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post(staff_client: Client) -> None:
    assert staff_client.post("/accounts/logout/").status_code == 302
    assert staff_client.get(ADA).status_code == 302


def test_demo_sign_in_exists_only_with_the_embedded_demo(client: Client, settings: Any) -> None:
    call_command("demo_setup", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    settings.DEMO_INVENT_ENABLED = False
    assert client.get(ADA).status_code == 302  # the running session stops working
    assert not client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)
    call_command("demo_setup", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    demo = get_user_model().objects.get(username=DEMO_USERNAME)
    assert not demo.is_active and not demo.has_usable_password()
    settings.DEMO_INVENT_ENABLED = True  # the demo is the upstream again: so is its account
    call_command("demo_setup", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert client.login(username=DEMO_USERNAME, password=DEMO_PASSWORD)


# --- Per-organisation access ------------------------------------------------------


def test_an_org_not_granted_is_404_with_no_upstream_call(client: Client, no_upstream: list[str]) -> None:
    user = get_user_model().objects.create_user("limited", password="x-long-password-1")
    OrgAccess.objects.create(user=user, org_id="northwind-emea")
    client.force_login(user)
    response = client.get(ADA)
    assert response.status_code == 404 and no_upstream == []


def test_access_is_per_org_id_not_per_key(client: Client) -> None:
    user = get_user_model().objects.create_user("emea", password="x-long-password-1")
    OrgAccess.objects.create(user=user, org_id="northwind-emea")
    client.force_login(user)
    assert client.get(reverse("contact_timeline", args=["northwind-emea", "ct_bruno"])).status_code == 200
    assert client.get(ADA).status_code == 404  # same Invent key, other org


def test_superusers_see_every_org(client: Client) -> None:
    admin = get_user_model().objects.create_superuser("root", password="x-long-password-1")
    client.force_login(admin)
    assert client.get(ADA).status_code == 200


def test_revoking_access_or_deactivating_takes_effect_on_the_next_request(client: Client) -> None:
    user = get_user_model().objects.create_user("revoked", password="x-long-password-1")
    grant = OrgAccess.objects.create(user=user, org_id="northwind")
    client.force_login(user)
    assert client.get(ADA).status_code == 200
    grant.delete()
    assert client.get(ADA, headers={"HX-Request": "true"}).status_code == 404  # a scroll, too: nothing cached
    OrgAccess.objects.create(user=user, org_id="northwind")
    assert client.get(ADA).status_code == 200
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(ADA).status_code == 302  # signed out: to the sign-in page


def test_the_signed_in_user_is_read_afresh_on_every_request(staff_user: Any, settings: Any) -> None:
    backend = DashboardBackend()
    assert backend.get_user(staff_user.pk) == staff_user
    assert backend.get_user(staff_user.pk + 1000) is None
    get_user_model().objects.filter(pk=staff_user.pk).update(first_name="Renamed")
    assert backend.get_user(staff_user.pk).first_name == "Renamed"  # nothing cached between requests
    get_user_model().objects.filter(pk=staff_user.pk).update(is_active=False)
    assert backend.get_user(staff_user.pk) is None
    demo = get_user_model().objects.create_user(DEMO_USERNAME, password=DEMO_PASSWORD)
    assert backend.get_user(demo.pk) == demo
    settings.DEMO_INVENT_ENABLED = False
    assert backend.get_user(demo.pk) is None


def test_grant_command(staff_user: Any) -> None:
    call_command("grant_org_access", "agent", "org-x", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert OrgAccess.objects.filter(user=staff_user, org_id="org-x").exists()
    call_command("grant_org_access", "agent", "org-x", "--revoke", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert not OrgAccess.objects.filter(user=staff_user, org_id="org-x").exists()


# --- Input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/orgs/northwind/contacts/../contacts/ct_ada/",
        "/orgs/northwind/contacts/..%2Fct_ada/",
        "/orgs/northwind/contacts/ct%2Fada/",
        "/orgs/north%00wind/contacts/ct_ada/",
        "/orgs/northwind/contacts/ct%0Aada/",
        "/orgs/northwind/contacts/" + "x" * 300 + "/",
        "/orgs/north wind/contacts/ct_ada/",
        "/orgs/northwind/contacts/ct_%C3%A9/",
    ],
)
def test_malformed_ids_are_404_with_no_upstream_call(staff_client: Client, no_upstream: list[str], path: str) -> None:
    response = staff_client.get(path)
    assert response.status_code in (404, 400) and no_upstream == []


def test_unknown_type_and_forged_paging_are_400(staff_client: Client, no_upstream: list[str]) -> None:
    from django.core import signing

    assert staff_client.get(ADA, {"type": "<script>"}).status_code == 400
    # A cursor is only ever what the service signed: a huge page number or a negative count cannot be forged in.
    forged = signing.dumps({"b": "2026-01-01T00:00:00+00:00", "s": [], "p": [99999999], "c": [None], "n": -4},
                           salt="someone-else", compress=True)  # fmt: skip
    for cursor in (forged, forged[:-3] + "abc", "x" * 5000):
        assert staff_client.get(ADA, {"cursor": cursor}).status_code == 400
    assert no_upstream == []


# --- Headers -----------------------------------------------------------------------


def test_security_headers(staff_client: Client) -> None:
    response = staff_client.get(ADA)
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'" and response["X-Frame-Options"] == "DENY"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def _settings_in_subprocess(env: dict[str, str], code: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INVENT_"))}
    full_env.update(DJANGO_SETTINGS_MODULE="timeline_site.settings", **env)
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return result.stdout + result.stderr


def test_frame_ancestors_from_the_environment_drop_x_frame_options() -> None:
    out = _settings_in_subprocess(
        {"DJANGO_SECRET_KEY": "x" * 50, "DJANGO_FRAME_ANCESTORS": "https://crm.example.com"},
        "print(settings.SECURE_CSP['frame-ancestors']); "
        "print('xfo' if any('XFrame' in m for m in settings.MIDDLEWARE) else 'no-xfo')",
    )
    assert "['https://crm.example.com']" in out and "no-xfo" in out


def test_missing_secret_key_is_refused_in_production() -> None:
    out = _settings_in_subprocess({"DJANGO_DEBUG": "0"}, "print('set' + 'tings loaded')")
    assert "DJANGO_SECRET_KEY is not set" in out and "settings loaded" not in out


def test_check_deploy_is_clean_with_production_variables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INVENT_"))}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="p" * 20 + "Q9-fh3kDm2LxZ8aW7eRt6YuIoP5sA4dF3gH2j",
        DJANGO_ALLOWED_HOSTS="timeline.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- Hostile content ------------------------------------------------------------------


def test_hostile_content_renders_inert(staff_client: Client) -> None:
    html = staff_client.get(HOSTILE).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, not dropped
    tags = parse_tags(html)
    assert not [(t, a) for t, attrs in tags for a, _ in attrs if a.startswith("on")]  # no event handlers
    scripts = [dict(attrs).get("src") or "" for t, attrs in tags if t == "script"]
    assert scripts and all(src.startswith("/static/") for src in scripts)  # only our own files
    assert not [t for t, _ in tags if t in {"iframe", "object", "embed", "base", "form"} and t != "form"]
    for attr, url in re.findall(r'\s(href|src)="([^"]*)"', html):
        assert url.startswith(("/", "https://", "http://", "#")), (attr, url)
        assert not url.startswith("//")
    # htmx attributes only ever come from our templates and point at our own timeline
    hx = [(a, v or "") for _, attrs in tags for a, v in attrs if a.startswith(("hx-", "data-hx-"))]
    assert hx
    for name, value in hx:
        if name.endswith(("-get", "-post", "-put", "-patch", "-delete")):
            assert value.startswith("/orgs/northwind/contacts/ct_hostile/"), (name, value)
    assert 'style="' not in html  # CSP forbids inline styles; none may come from content either


def test_unknown_future_type_gets_the_generic_card(staff_client: Client) -> None:
    html = staff_client.get(HOSTILE).content.decode()
    assert 'data-activity-type="contact_merged"' in html and "activity-unknown" in html


# --- The key --------------------------------------------------------------------------


def test_the_key_is_in_no_page_and_no_log_line(
    staff_client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk_live_Zq81NotForAnyone_7f3b2c"
    settings.DEMO_INVENT_API_KEY = secret
    settings.INVENT_API_KEY = secret
    pages = [
        ADA,
        HOSTILE,
        reverse("contact_timeline", args=["northwind", "ct_nobody"]),
        reverse("contact_timeline", args=["northwind", "ct_ratelimited"]),
        ADA + "?type=bogus",
        "/",
        "/healthz",
    ]
    with caplog.at_level(logging.DEBUG):
        bodies = [staff_client.get(url) for url in pages]
        settings.DEMO_INVENT_API_KEY = "something-else"  # now the key is wrong: a 401 upstream
        cache.clear()
        bodies.append(staff_client.get(ADA))
    assert bodies[-1].status_code == 502
    for response in bodies:
        assert secret not in response.content.decode()
        assert all(secret not in str(v) for v in response.headers.values())
    assert caplog.records and secret not in caplog.text
    assert all(secret not in str(k) for k in getattr(cache, "_cache", {}))


# --- Audit trail -------------------------------------------------------------------------


def test_opening_a_timeline_is_audited_once_per_visit(staff_client: Client, staff_user: Any) -> None:
    html = staff_client.get(ADA).content.decode()
    next_url = re.search(r'<a class="button older" href="([^"]+)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    staff_client.get(next_url, HTTP_HX_REQUEST="true")  # scrolling is not another visit
    views = TimelineView.objects.filter(user=staff_user)
    assert views.count() == 1
    view = views.get()
    assert (view.org_id, view.contact_id, view.contact_name) == ("northwind", "ct_ada", "Ada Lovelace")


def test_a_scroll_asks_the_database_once_per_window_and_a_later_visit_is_recorded(
    staff_client: Client, staff_user: Any
) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from timeline_site.timeline.audit import READING_WINDOW

    staff_client.get(ADA, HTTP_HX_REQUEST="true")  # a fragment first: a row without the name
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            staff_client.get(ADA, HTTP_HX_REQUEST="true")
    assert not [q for q in queries.captured_queries if "timelineview" in q["sql"].lower()]
    staff_client.get(ADA)  # the whole page knows the name: it still fills it in
    assert list(TimelineView.objects.filter(user=staff_user).values_list("contact_name", flat=True)) == ["Ada Lovelace"]
    # Another process (its own cache) finds the row once, then knows it too.
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            staff_client.get(ADA, HTTP_HX_REQUEST="true")
    assert len([q for q in queries.captured_queries if "timelineview" in q["sql"].lower()]) == 1
    # The window passes (the cache entry with it): the next page is a new reading.
    TimelineView.objects.update(viewed_at=timezone.now() - READING_WINDOW - timedelta(seconds=1))
    cache.clear()
    staff_client.get(ADA, HTTP_HX_REQUEST="true")
    assert TimelineView.objects.filter(user=staff_user).count() == 2


def test_denied_and_failed_opens_are_not_recorded_as_views(staff_client: Client, staff_user: Any) -> None:
    staff_client.get(reverse("contact_timeline", args=["elsewhere", "ct_ada"]))
    assert not TimelineView.objects.filter(user=staff_user).exists()


def test_audit_trail_is_readable_but_not_editable_in_the_admin(client: Client, staff_user: Any) -> None:
    TimelineView.objects.create(user=staff_user, org_id="northwind", contact_id="ct_ada", contact_name="Ada")
    admin = get_user_model().objects.create_superuser("root", password="x-long-password-1")
    client.force_login(admin)
    listing = client.get("/admin/timeline/timelineview/")
    assert listing.status_code == 200 and "ct_ada" in listing.content.decode()
    view = TimelineView.objects.get(user=staff_user)
    assert client.post(f"/admin/timeline/timelineview/{view.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TimelineView.objects.filter(pk=view.pk).exists()


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "10.0.0.5", "203.0.113.9", "10.0.0.5"),  # no proxy configured: the header is ignored
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.5", "198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"),  # forged left part
        (["10.0.0.0/8"], "192.0.2.44", "203.0.113.9", "192.0.2.44"),  # not from the proxy: ignored
        (["10.0.0.0/8"], "10.0.0.5", "not-an-ip", "10.0.0.5"),
    ],
)
def test_client_address_behind_a_trusted_proxy(
    settings: Any, trusted: list[str], remote: str, forwarded: str, expected: str
) -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from timeline_site.core.middleware import ClientAddressMiddleware

    settings.TRUSTED_PROXIES = trusted
    seen: list[str] = []
    middleware = ClientAddressMiddleware(lambda request: seen.append(request.META["REMOTE_ADDR"]) or HttpResponse())
    middleware(RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded))
    assert seen == [expected]


def test_head_is_answered_like_get_and_unsafe_methods_are_refused(staff_client: Client, client: Client) -> None:
    assert client.head("/healthz").status_code == 200  # load balancers and monitors often use HEAD
    assert staff_client.head(ADA).status_code == 200
    assert not TimelineView.objects.exists()  # a HEAD is not a reading of the timeline
    assert staff_client.post(ADA).status_code in (403, 405)
    assert staff_client.delete(ADA).status_code in (403, 405)
