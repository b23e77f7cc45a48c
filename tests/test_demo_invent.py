"""The embedded demo Invent: contract, behaviours, assets, seed data and commands.

Most tests go through `requests` with the in-process adapter, i.e. the same code
path the dashboard's client uses; a few run the app behind a real HTTP server.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.urls import include, path

from timeline_site.demo_invent import app as demo_app
from timeline_site.demo_invent.app import ACTIVITY_TYPES, reset_behaviour_state, set_latency_ms
from timeline_site.demo_invent.assets import ASSET_NAMES
from timeline_site.demo_invent.models import DemoActivity, DemoContact
from timeline_site.demo_invent.seed import (
    ANCHOR,
    DEMO_CONTACTS,
    PARENT_ORG_ID,
    SEGMENTS,
    SUB_ORG_ID,
    seed_demo,
)
from timeline_site.demo_invent.server import make_demo_server, server_url
from timeline_site.demo_invent.transport import DemoInventAdapter

# Used by @pytest.mark.urls below: the lead mounts the same include at /demo-invent/.
urlpatterns = [path("demo-invent/", include("timeline_site.demo_invent.urls"))]

BASE = "http://demo-invent.internal"
KEY = "demo"
ALL_TYPES = set(ACTIVITY_TYPES)  # the demo's own list; the client's is tested against it in test_client_contract


def activities_path(kind: str) -> str:
    org, contact = DEMO_CONTACTS[kind]
    return f"/orgs/{org}/contacts/{contact}/activities"


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture(scope="module")
def seeded_module(django_db_setup: None, django_db_blocker: Any) -> None:
    # Committed once per module, outside the per-test transactions that roll back
    # each test's own changes. Seeding is idempotent, so it is harmless when the
    # session has seeded already.
    with django_db_blocker.unblock():
        seed_demo()


@pytest.fixture
def reseed_afterwards(django_db_blocker: Any) -> Iterator[None]:
    """Put the seed back after a transactional test's flush (request it before the db fixtures)."""
    yield
    with django_db_blocker.unblock():
        seed_demo()


@pytest.fixture
def seeded(seeded_module: None, db: None) -> Iterator[None]:
    reset_behaviour_state()
    yield
    set_latency_ms(None)


def make_session(base: str = BASE, key: str | None = KEY) -> requests.Session:
    session = requests.Session()
    session.mount(f"{BASE}/", DemoInventAdapter())
    if key is not None:
        session.headers["Authorization"] = f"Bearer {key}"
    return session


@pytest.fixture
def api(seeded: None) -> requests.Session:
    return make_session()


def get(session: requests.Session, path: str, **params: Any) -> requests.Response:
    return session.get(BASE + path, params=params, timeout=5)


def fetch_all(session: requests.Session, path: str, take: int = 100, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = get(session, path, page=page, take=take, **params)
        assert response.status_code == 200, response.text
        batch = response.json()
        items.extend(batch)
        if len(batch) < take:
            return items
        page += 1


# --- Auth and scoping -----------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic demo", "demo", "Bearer "])
def test_missing_or_wrong_key_is_401_with_json_error(seeded: None, authorization: str | None) -> None:
    session = make_session(key=None)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = session.get(BASE + activities_path("ordinary"), headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "error": "Unauthorized", "message": "Invalid or missing API key"}


def test_c_means_the_keys_own_parent_org(api: requests.Session) -> None:
    by_shorthand = get(api, "/orgs/c/contacts/ct_ada/activities")
    by_id = get(api, f"/orgs/{PARENT_ORG_ID}/contacts/ct_ada/activities")
    assert by_shorthand.status_code == by_id.status_code == 200
    assert by_shorthand.json() == by_id.json()


def test_parent_key_reaches_sub_org_by_real_id_only(api: requests.Session) -> None:
    assert get(api, activities_path("sub_org")).status_code == 200
    assert get(api, "/orgs/c/contacts/ct_bruno/activities").status_code == 404
    assert get(api, f"/orgs/{SUB_ORG_ID}/contacts/ct_ada/activities").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/orgs/nope/contacts/ct_ada/activities",
        "/orgs/c/contacts/ct_nope/activities",
        "/orgs/c/contacts/ct_nope",
        "/orgs/c/contacts/ct_ada/unknown",
        "/orgs/c/assistants",
        "/activities",
        "/",
    ],
)
def test_not_found(api: requests.Session, path: str) -> None:
    response = get(api, path)
    assert response.status_code == 404
    body = response.json()
    assert body["statusCode"] == 404 and body["error"] == "Not Found" and body["message"]


def test_non_get_is_405(api: requests.Session) -> None:
    response = api.post(BASE + activities_path("ordinary"), json={}, timeout=5)
    assert response.status_code == 405
    assert response.json()["statusCode"] == 405


# --- Activities: paging, ordering, filtering ------------------------------


def test_paging_headers_and_pages_cover_everything_once(api: requests.Session) -> None:
    path = activities_path("ordinary")
    total = int(get(api, path).headers["pagination-count"])
    assert 55 <= total <= 65
    seen: list[str] = []
    for page in range(1, 4):
        response = get(api, path, page=page, take=25)
        assert response.headers["pagination-count"] == str(total)
        assert response.headers["pagination-page"] == str(page)
        assert response.headers["pagination-take"] == "25"
        seen.extend(item["id"] for item in response.json())
    assert len(seen) == len(set(seen)) == total

    beyond = get(api, path, page=4, take=25)
    assert beyond.status_code == 200
    assert beyond.json() == []
    assert beyond.headers["pagination-page"] == "4"
    assert get(api, path, page=999_999_999).json() == []


@pytest.mark.parametrize("take", [101, 500, 10**15])
def test_take_defaults_to_and_is_capped_at_100(api: requests.Session, take: int) -> None:
    path = activities_path("heavy")
    default = get(api, path)
    capped = get(api, path, take=take)
    assert len(default.json()) == len(capped.json()) == 100
    assert default.headers["pagination-take"] == capped.headers["pagination-take"] == "100"
    assert capped.json() == default.json()


@pytest.mark.parametrize("kind", ["ordinary", "heavy"])
def test_newest_first_with_ties_broken_by_id_descending(api: requests.Session, kind: str) -> None:
    items = fetch_all(api, activities_path(kind))
    keys = [(parse_time(item["created_at"]), item["id"]) for item in items]
    assert keys == sorted(keys, reverse=True)
    times = Counter(item["created_at"] for item in items)
    assert any(count > 1 for count in times.values()), "the seed should contain same-second activities"


def test_type_filter(api: requests.Session) -> None:
    path = activities_path("ordinary")
    everything = fetch_all(api, path)
    for activity_type in ALL_TYPES:
        response = get(api, path, type=activity_type)
        items = response.json()
        expected = [item for item in everything if item["type"] == activity_type]
        assert items == expected
        assert response.headers["pagination-count"] == str(len(expected))


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=",
        "take=0",
        "take=ten",
        "type=bogus",
        "type=",
        "type=note_created&type=file_uploaded",
        "page=1&page=2",
    ],
)
def test_bad_parameters_are_400(api: requests.Session, query: str) -> None:
    response = api.get(f"{BASE}{activities_path('ordinary')}?{query}", timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


def test_created_at_format(api: requests.Session) -> None:
    item = get(api, activities_path("ordinary"), take=1).json()[0]
    assert item["created_at"] == "2026-11-27T16:00:00Z"
    assert set(item) >= {"id", "type", "created_at", "actor", "assistant", "metadata"}


# --- Contacts, notes, segments --------------------------------------------


def contact_ids(session: requests.Session, **params: Any) -> list[str]:
    response = get(session, "/orgs/c/contacts", **params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_contact_list_ordering_and_headers(api: requests.Session) -> None:
    response = get(api, "/orgs/c/contacts", take=5, page=2)
    assert response.headers["pagination-take"] == "5"
    assert response.headers["pagination-page"] == "2"
    everything = get(api, "/orgs/c/contacts").json()
    assert response.headers["pagination-count"] == str(len(everything))
    keys = [(parse_time(item["created_at"]), item["id"]) for item in everything]
    assert keys == sorted(keys, reverse=True)
    assert "ct_bruno" not in [item["id"] for item in everything]


def test_contact_filters(api: requests.Session) -> None:
    assert contact_ids(api, search="LOVELACE") == ["ct_ada"]
    assert contact_ids(api, search="ada@analytical") == ["ct_ada"]
    assert contact_ids(api, search="+447700900018") == ["ct_ada"]
    assert contact_ids(api, name="ada lov") == ["ct_ada"]
    assert contact_ids(api, email="ANALYTICAL.example") == ["ct_ada"]
    assert contact_ids(api, user_id="447700900018") == ["ct_ada"]
    assert contact_ids(api, username="ada.l") == ["ct_ada"]
    assert contact_ids(api, search="no such person") == []
    ada_segment = get(api, "/orgs/c/contacts/ct_ada").json()["segments"][0]["id"]
    assert "ct_ada" in contact_ids(api, segment_id=ada_segment)
    assert "ct_amara" not in contact_ids(api, exclude_admins="true")
    assert contact_ids(api, status="AI_REPLIES_DISABLED") == []
    assert len(contact_ids(api, status="ALL")) == len(contact_ids(api))


def test_status_and_unsubscribed_filters_agree_with_contact_objects(api: requests.Session) -> None:
    contacts = get(api, "/orgs/c/contacts").json()
    unsubscribed = {c["id"] for c in contacts if c["unsubscribed"]}
    blocked = {c["id"] for c in contacts if c["blocked"]}
    assert unsubscribed and blocked
    assert set(contact_ids(api, unsubscribed="true")) == unsubscribed
    assert set(contact_ids(api, unsubscribed="false")) == {c["id"] for c in contacts} - unsubscribed
    assert set(contact_ids(api, status="UNSUBSCRIBED")) == unsubscribed
    assert set(contact_ids(api, status="SUBSCRIBED")) == {c["id"] for c in contacts} - unsubscribed
    assert set(contact_ids(api, status="BLOCKED")) == blocked


@pytest.mark.parametrize("query", ["status=active", "unsubscribed=maybe", "take=0", "search=a&search=b"])
def test_contact_list_bad_parameters_are_400(api: requests.Session, query: str) -> None:
    assert api.get(f"{BASE}/orgs/c/contacts?{query}", timeout=5).status_code == 400


def test_single_contact(api: requests.Session) -> None:
    contact = get(api, "/orgs/c/contacts/ct_ada").json()
    assert contact["id"] == "ct_ada"
    assert contact["name"] == "Ada Lovelace"
    assert contact["blocked"] is False and contact["unsubscribed"] is False
    assert {channel["type"] for channel in contact["channels"]} == {"gmail", "twilio", "whatsapp_bot"}
    assert all("boards" not in segment for segment in contact["segments"])


def test_notes_are_the_note_objects_of_note_activities(api: requests.Session) -> None:
    notes = [a["note"] for a in fetch_all(api, activities_path("ordinary"), type="note_created") if a["note"]]
    response = get(api, "/orgs/c/contacts/ct_ada/notes", take=10)
    assert response.headers["pagination-count"] == str(len(notes))
    assert response.json() == notes[:10]
    assert all(note["contact_id"] == "ct_ada" for note in notes)


def test_hostile_notes_skip_null_notes(api: requests.Session) -> None:
    notes = get(api, "/orgs/c/contacts/ct_hostile/notes").json()
    assert notes and all(isinstance(note, dict) for note in notes)


def test_contact_segments(api: requests.Session) -> None:
    contact = get(api, "/orgs/c/contacts/ct_ada").json()
    response = get(api, "/orgs/c/contacts/ct_ada/segments")
    assert response.json() == contact["segments"]
    assert response.headers["pagination-count"] == str(len(contact["segments"]))


# --- Behaviours and latency ------------------------------------------------


def test_flaky_contact_alternates_503_and_200(api: requests.Session) -> None:
    path = activities_path("flaky")
    statuses = [get(api, path).status_code for _ in range(4)]
    assert statuses == [503, 200, 503, 200]


def test_rate_limited_contact_has_retry_after(api: requests.Session) -> None:
    response = get(api, activities_path("rate_limited"))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json()["statusCode"] == 429


def test_slow_contact_sleeps_about_three_seconds(api: requests.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(demo_app.time, "sleep", sleeps.append)
    assert get(api, activities_path("slow")).status_code == 200
    assert sleeps == [3.0]
    sleeps.clear()
    assert get(api, activities_path("ordinary")).status_code == 200
    assert sleeps == []


def test_latency_setting_and_process_override(
    api: requests.Session, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(demo_app.time, "sleep", sleeps.append)
    settings.DEMO_INVENT_LATENCY_MS = 40
    get(api, activities_path("ordinary"))
    set_latency_ms(250)
    get(api, activities_path("ordinary"))
    set_latency_ms(0)
    get(api, activities_path("ordinary"))
    assert sleeps == [0.04, 0.25]


def test_set_behaviour_command_breaks_and_unbreaks_a_contact(api: requests.Session) -> None:
    org, contact = DEMO_CONTACTS["ordinary"]
    call_command("demo_invent_set_behaviour", "--org", org, "--contact", contact, "down", stdout=io.StringIO())
    assert get(api, activities_path("ordinary")).status_code == 503
    call_command("demo_invent_set_behaviour", "--org", org, "--contact", contact, "normal", stdout=io.StringIO())
    assert get(api, activities_path("ordinary")).status_code == 200


# --- Assets and URLs -------------------------------------------------------

ASSET_SIGNATURES = {
    "screenshot.png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "photo.jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "invoice.pdf": ("application/pdf", b"%PDF-"),
    "diagnostics.zip": ("application/zip", b"PK\x03\x04"),
    "orders.csv": ("text/csv; charset=utf-8", b"date,order"),
    "avatar-grace.svg": ("image/svg+xml", b"<svg "),
}


@pytest.mark.parametrize(("name", "expected"), ASSET_SIGNATURES.items())
def test_assets_need_no_key_and_have_content_types(seeded: None, name: str, expected: tuple[str, bytes]) -> None:
    content_type, signature = expected
    response = make_session(key=None).get(f"{BASE}/assets/{name}", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert "max-age=" in response.headers["Cache-Control"]
    assert response.content.startswith(signature)


def test_zip_asset_is_a_real_archive(seeded: None) -> None:
    body = make_session(key=None).get(f"{BASE}/assets/diagnostics.zip", timeout=5).content
    assert zipfile.ZipFile(io.BytesIO(body)).namelist() == ["README.txt", "logs/app.log"]


def test_unknown_asset_is_404(seeded: None) -> None:
    assert make_session(key=None).get(f"{BASE}/assets/nope.png", timeout=5).status_code == 404


@pytest.mark.urls("tests.test_demo_invent")
def test_django_asset_view_serves_the_same_bytes_without_login(client: Client, seeded: None) -> None:
    for name in ASSET_NAMES:
        response = client.get(f"/demo-invent/assets/{name}")
        assert response.status_code == 200, name
        in_process = make_session(key=None).get(f"{BASE}/assets/{name}", timeout=5)
        assert response.content == in_process.content
        assert response["Content-Type"] == in_process.headers["Content-Type"]
        assert "max-age" in response["Cache-Control"]
    assert client.get("/demo-invent/assets/nope.png").status_code == 404


def asset_urls(value: Any) -> list[str]:
    if isinstance(value, list):
        return [url for item in value for url in asset_urls(item)]
    if not isinstance(value, dict):
        return []
    found = [v for k, v in value.items() if k in demo_app.URL_FIELDS and isinstance(v, str) and v]
    return found + [url for v in value.values() for url in asset_urls(v)]


def test_in_process_asset_urls_are_root_relative_under_demo_invent(api: requests.Session) -> None:
    urls = asset_urls(fetch_all(api, activities_path("ordinary")))
    urls += asset_urls(get(api, "/orgs/c/contacts/ct_ada").json())
    assert urls
    assert all(url.startswith("/demo-invent/assets/") for url in urls)
    assert "/demo-invent/assets/avatar-ada.svg" in urls


def test_hostile_urls_are_served_verbatim(api: requests.Session) -> None:
    urls = asset_urls(get(api, activities_path("hostile")).json())
    urls += asset_urls(get(api, "/orgs/c/contacts/ct_hostile").json())
    assert "javascript:alert(document.cookie)" in urls
    assert "javascript:alert('avatar')" in urls
    assert any(url.startswith("data:") for url in urls)
    assert not any("demo-invent" in url and ("javascript:" in url or "data:" in url) for url in urls)


# --- Real HTTP ---------------------------------------------------------------


@pytest.fixture
def live_demo(reseed_afterwards: None, transactional_db: None) -> Iterator[str]:
    # The server thread has its own database connection, so the data must be committed.
    seed_demo()
    reset_behaviour_state()
    server = make_demo_server("127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_over_http_asset_urls_use_the_requests_own_host(live_demo: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    response = requests.get(f"{live_demo}/orgs/c/contacts/ct_ada", headers=headers, timeout=5)
    assert response.status_code == 200
    avatar = next(c["avatar"] for c in response.json()["channels"] if c["avatar"])
    assert avatar == f"{live_demo}/assets/avatar-ada.svg"
    image = requests.get(avatar, timeout=5)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/svg+xml"


def test_over_http_contract_basics(live_demo: str) -> None:
    url = f"{live_demo}/orgs/c/contacts/ct_ada/activities"
    assert requests.get(url, timeout=5).status_code == 401
    response = requests.get(url, params={"take": 7}, headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
    assert response.status_code == 200
    assert len(response.json()) == 7
    assert response.headers["pagination-take"] == "7"
    assert int(response.headers["pagination-count"]) >= 55
    limited = requests.get(
        f"{live_demo}{activities_path('rate_limited')}", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "30")
    assert requests.head(f"{live_demo}/assets/photo.jpg", timeout=5).status_code == 200


def test_gunicorn_entry_point_exposes_a_wsgi_callable() -> None:
    from timeline_site.demo_invent import wsgi

    assert callable(wsgi.application)


# --- Commands ---------------------------------------------------------------


def test_add_activity_command_adds_newest_items_with_sorting_ids(api: requests.Session) -> None:
    org, contact = DEMO_CONTACTS["ordinary"]
    before = get(api, activities_path("ordinary"), take=1).json()[0]
    out = io.StringIO()
    call_command("demo_invent_add_activity", "--org", org, "--contact", contact, "--count", "3", stdout=out)
    new_ids = out.getvalue().split()
    assert len(new_ids) == 3

    first = get(api, activities_path("ordinary"), take=4).json()
    assert [item["id"] for item in first[:3]] == new_ids[::-1]
    assert first[3] == before
    times = [parse_time(item["created_at"]) for item in first[:3]]
    assert times[0] > times[1] > times[2] > parse_time(before["created_at"])
    assert min(new_ids) > before["id"]
    assert all(item["type"] == "note_created" and item["note"]["content"] for item in first[:3])


def test_add_activity_keeps_the_contact_object_consistent(api: requests.Session) -> None:
    org, contact = DEMO_CONTACTS["ordinary"]
    out = io.StringIO()
    call_command(
        "demo_invent_add_activity", "--org", org, "--contact", contact, "--type", "contact_blocked", stdout=out
    )
    latest = get(api, activities_path("ordinary"), take=1).json()[0]
    assert latest["id"] == out.getvalue().strip()
    assert latest["type"] == "contact_blocked"
    ada = get(api, "/orgs/c/contacts/ct_ada").json()
    assert ada["blocked"] is True and ada["blocked_at"] == latest["created_at"]


# --- Seed data ----------------------------------------------------------------

SNAPSHOT_PATHS = [
    "/orgs/c/contacts",
    f"/orgs/{SUB_ORG_ID}/contacts",
    activities_path("ordinary"),
    activities_path("hostile"),
    activities_path("heavy") + "?page=37",
    "/orgs/c/contacts/ct_ada/notes",
]


def snapshot(session: requests.Session) -> list[Any]:
    return [
        (session.get(BASE + p, timeout=5).json(), dict(session.get(BASE + p, timeout=5).headers))
        for p in SNAPSHOT_PATHS
    ]


def test_seed_is_deterministic_and_fast(api: requests.Session) -> None:
    first = json.dumps(snapshot(api), sort_keys=True)
    started = time.perf_counter()
    seed_demo()
    elapsed = time.perf_counter() - started
    print(f"\nseed_demo() took {elapsed:.2f} s for {DemoActivity.objects.count()} activities")
    assert json.dumps(snapshot(api), sort_keys=True) == first


def test_ordinary_contact_covers_every_type_and_the_pairs(api: requests.Session) -> None:
    items = fetch_all(api, activities_path("ordinary"))
    assert {item["type"] for item in items} == ALL_TYPES
    assert items[0]["created_at"] == "2026-11-27T16:00:00Z"
    oldest = parse_time(items[-1]["created_at"])
    assert timedelta(days=60) < ANCHOR - oldest < timedelta(days=100)
    unsubscribes = [item for item in items if item["type"] == "contact_unsubscribed"]
    assert any(item["broadcast"] and item["metadata"].get("reason") for item in unsubscribes)
    actors = [item["actor"] for item in items if item["actor"]]
    assert {bool(actor["avatar"]) for actor in actors} == {True, False}
    assert any(item["assistant"] for item in items)
    assert any(item["actor"] is None and item["assistant"] is None for item in items)
    attachments = [a for item in items if item["note"] for a in item["note"]["attachments"]]
    assert len(attachments) >= 3


def test_heavy_and_empty_contacts(api: requests.Session) -> None:
    heavy = get(api, activities_path("heavy"), take=1)
    assert int(heavy.headers["pagination-count"]) >= 5000
    last_page = int(heavy.headers["pagination-count"])
    oldest = get(api, activities_path("heavy"), take=1, page=last_page).json()[0]
    assert ANCHOR - parse_time(oldest["created_at"]) >= timedelta(days=730)
    for activity_type in ALL_TYPES:
        assert get(api, activities_path("heavy"), type=activity_type, take=1).json()
    empty = get(api, activities_path("empty"))
    assert empty.json() == [] and empty.headers["pagination-count"] == "0"


def test_every_contact_object_agrees_with_its_latest_events(seeded: None) -> None:
    for contact in DemoContact.objects.all():
        activities = contact.activities.order_by("-created_at", "-activity_id")
        block = activities.filter(type__in=["contact_blocked", "contact_unblocked"]).first()
        unsubscribe = activities.filter(type__in=["contact_unsubscribed", "contact_resubscribed"]).first()
        assert contact.data["blocked"] is (block is not None and block.type == "contact_blocked"), contact
        assert contact.data["unsubscribed"] is (
            unsubscribe is not None and unsubscribe.type == "contact_unsubscribed"
        ), contact
        if contact.data["unsubscribed"]:
            assert unsubscribe is not None
            assert contact.data["unsubscribe_reason"] == (unsubscribe.data["metadata"] or {}).get("reason")


def test_segments_use_all_seventeen_colours() -> None:
    assert len({segment["color"] for segment in SEGMENTS}) == 17


def test_hostile_contact_is_hostile(api: requests.Session) -> None:
    contact = get(api, "/orgs/c/contacts/ct_hostile").json()
    assert contact["name"] == "<img src=x onerror=alert(1)>"
    items = get(api, activities_path("hostile")).json()
    types = Counter(item.get("type") for item in items)
    assert types["contact_merged"] == 1
    assert any("id" not in item for item in items)
    assert any(item.get("created_at") == "not-a-date" for item in items)
    notes = [item["note"] for item in items if isinstance(item.get("note"), dict)]
    contents = [note["content"] or "" for note in notes]
    assert any("<script>alert(1)</script>" in text and 'hx-get="/x"' in text for text in contents)
    assert any(len(text) >= 200 * 1024 for text in contents)
    assert any("\u200b" in text and "\u202e" in text and "\u05e9" in text for text in contents)
    assert any(any(len(word) >= 300 for word in text.split()) for text in contents)
    sizes = [item["file"]["file_size"] for item in items if isinstance(item.get("file"), dict)]
    assert {0, 1024, 5 * 1024**3, "12 KB"} <= set(sizes)
    assert any(item.get("type") == "segment_added" and "segment" not in item for item in items)
    assert any(isinstance(item.get("segment"), dict) and item["segment"]["color"] == "chartreuse" for item in items)
    assert any(item.get("type") == "note_created" and item.get("note") is None for item in items)
    assert any("metadata" in item and item["metadata"] is None for item in items)
    # Any date-time the schema allows: one to show (the oldest, served last), one no zone can place.
    assert items[-1]["created_at"] == "1959-06-01T09:30:00Z" and items[-1]["type"] == "note_created"
    assert any(item.get("created_at") == "0001-01-01T00:00:00Z" for item in items)
    assert '=HYPERLINK("https://evil.example","click")' in contents  # a formula, for the CSV export
