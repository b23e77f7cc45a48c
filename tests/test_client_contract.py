"""The same contract checks through our client, against the demo in-process and over real HTTP:
the demo and the client provably agree (auth, paging headers, ordering, filters, errors)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from timeline_site.demo_invent.app import reset_behaviour_state
from timeline_site.demo_invent.transport import DemoInventAdapter
from timeline_site.invent.client import DEMO_BASE_URL, ContactFilters, InventClient
from timeline_site.invent.errors import InventAuthError, InventNotFound, InventRateLimited, InventUnavailable

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_over_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo Invent served over real HTTP by its own command, in its own process and database."""
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('demo') / 'db'}"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "-v0"], ["demo_invent_seed"]):
        subprocess.run([*manage, *command], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([*manage, "serve_demo_invent", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url + "/assets/none", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(params=["in-process", "http"])
def base_url(request: pytest.FixtureRequest) -> str:
    reset_behaviour_state()
    return DEMO_BASE_URL if request.param == "in-process" else request.getfixturevalue("demo_over_http")


def make_client(base_url: str, key: str = "demo") -> InventClient:
    session = requests.Session()
    if base_url == DEMO_BASE_URL:
        session.mount(DEMO_BASE_URL + "/", DemoInventAdapter())
    return InventClient(base_url=base_url, api_key=key, session=session, read_timeout=10)


def test_paging_headers_order_and_completeness(base_url: str) -> None:
    client = make_client(base_url)
    first = client.list_activities(org_id="northwind", contact_id="ct_ada", take=25)
    assert first.total is not None and first.total > 50 and first.page == 1 and first.take == 25 and first.has_more
    seen: list[Any] = list(first.items)
    page = first
    while page.has_more:
        page = client.list_activities(org_id="northwind", contact_id="ct_ada", page=page.page + 1, take=25)
        seen += page.items
    assert len(seen) == first.total == len({a.id for a in seen})
    keys = [(a.created_at, a.id) for a in seen]
    assert keys == sorted(keys, reverse=True)  # newest first, ties broken by id


def test_take_is_capped_by_both_sides(base_url: str) -> None:
    page = make_client(base_url).list_activities(org_id="northwind", contact_id="ct_heavy", take=500)
    assert page.take == 100 and len(page.items) == 100


def test_type_filter(base_url: str) -> None:
    page = make_client(base_url).list_activities(
        org_id="northwind", contact_id="ct_heavy", activity_type="file_uploaded"
    )
    assert page.items and {a.type for a in page.items} == {"file_uploaded"}
    assert all(a.file is not None for a in page.items)


def test_c_is_the_keys_own_org_and_sub_orgs_need_their_id(base_url: str) -> None:
    client = make_client(base_url)
    via_c = client.list_activities(org_id="c", contact_id="ct_ada", take=5)
    direct = client.list_activities(org_id="northwind", contact_id="ct_ada", take=5)
    assert [a.id for a in via_c.items] == [a.id for a in direct.items]
    assert client.list_activities(org_id="northwind-emea", contact_id="ct_bruno").items
    with pytest.raises(InventNotFound):
        client.list_activities(org_id="c", contact_id="ct_bruno")


def test_wrong_key_and_unknown_ids(base_url: str) -> None:
    with pytest.raises(InventAuthError):
        make_client(base_url, key="wrong").list_activities(org_id="northwind", contact_id="ct_ada")
    with pytest.raises(InventNotFound):
        make_client(base_url).list_activities(org_id="nowhere", contact_id="ct_ada")
    with pytest.raises(InventNotFound):
        make_client(base_url).list_activities(org_id="northwind", contact_id="ct_nobody")


def test_rate_limited_flaky_and_down(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("timeline_site.invent.client.time.sleep", lambda seconds: None)
    client = make_client(base_url)
    with pytest.raises(InventRateLimited) as raised:
        client.list_activities(org_id="northwind", contact_id="ct_ratelimited")
    assert raised.value.retry_after == 30
    for _ in range(3):  # every other call fails upstream; the retry hides it
        assert client.list_activities(org_id="northwind", contact_id="ct_flaky").items


def test_contacts_filters_and_single_contact(base_url: str) -> None:
    client = make_client(base_url)
    ada = client.get_contact(org_id="northwind", contact_id="ct_ada")
    assert ada is not None and ada.name == "Ada Lovelace" and ada.email
    by_email = client.list_contacts(org_id="northwind", filters=ContactFilters(email=ada.email))
    assert [c.id for c in by_email.items] == ["ct_ada"]
    blocked = client.list_contacts(org_id="northwind", filters=ContactFilters(status="BLOCKED"), take=100)
    assert blocked.items and all(c.blocked for c in blocked.items)
    assert client.get_contact(org_id="northwind", contact_id="ct_nobody") is None


def test_hostile_contact_parses_with_malformed_items_skipped(base_url: str) -> None:
    page = make_client(base_url).list_activities(org_id="northwind", contact_id="ct_hostile")
    assert page.skipped >= 1 and page.items
    assert "contact_merged" in {a.type for a in page.items}
    for activity in page.items:
        for url in [activity.actor.avatar if activity.actor else None, activity.file.url if activity.file else None]:
            assert url is None or url.startswith(("http://", "https://", "/"))


def test_bad_parameters_become_unavailable_not_a_crash(base_url: str) -> None:
    with pytest.raises(InventUnavailable) as raised:
        make_client(base_url).get_json("/orgs/northwind/contacts/ct_ada/activities", {"page": "zero"})
    assert raised.value.status == 400
