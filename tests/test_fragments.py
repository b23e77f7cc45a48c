"""The rendered-fragment cache: repeats are served without upstream reads, rendering or compressing."""

from __future__ import annotations

import gzip
import re

import pytest
from django.test import Client
from django.urls import reverse

from timeline_site.invent.client import InventClient

pytestmark = pytest.mark.django_db
HEAVY = reverse("contact_timeline", args=["northwind", "ct_heavy"])


def next_url(client: Client) -> str:
    html = client.get(HEAVY).content.decode()
    return re.search(r'<a class="button older" href="([^"]+)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]


def test_a_cached_fragment_is_sent_pre_compressed_to_clients_that_accept_gzip(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = next_url(staff_client)
    first = staff_client.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_ENCODING="gzip, br")
    monkeypatch.setattr(InventClient, "get_json", lambda *a, **k: pytest.fail("upstream call on a cached fragment"))
    repeat = staff_client.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_ENCODING="gzip, br")
    assert repeat["Content-Encoding"] == "gzip" and "Accept-Encoding" in repeat["Vary"]
    assert gzip.decompress(repeat.content) == gzip.decompress(first.content)
    plain = staff_client.get(url, HTTP_HX_REQUEST="true")
    assert "Content-Encoding" not in plain and plain.content == gzip.decompress(first.content)


def test_a_fresh_fragment_is_compressed_once_and_sent_as_a_repeat_would_be(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    compressions: list[int] = []
    original = gzip.compress
    monkeypatch.setattr(
        gzip, "compress", lambda data, *a, **k: compressions.append(len(data)) or original(data, *a, **k)
    )
    url = next_url(staff_client)
    compressions.clear()
    first = staff_client.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_ENCODING="gzip")
    assert first["Content-Encoding"] == "gzip" and len(compressions) == 1
    assert b"data-activity-id=" in gzip.decompress(first.content)
    assert first["Cache-Control"].startswith("max-age=0") and "HX-Request" in first["Vary"]
    repeat = staff_client.get(url, HTTP_HX_REQUEST="true", HTTP_ACCEPT_ENCODING="gzip")
    timing = {"Server-Timing"}
    assert repeat.content == first.content
    assert {k: v for k, v in repeat.headers.items() if k not in timing} == {
        k: v for k, v in first.headers.items() if k not in timing
    }


def test_fragments_are_cached_per_time_zone(staff_client: Client) -> None:
    url = next_url(staff_client)
    utc = staff_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    staff_client.cookies["tz"] = "Pacific/Auckland"
    auckland = staff_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert " UTC" in utc and " UTC" not in auckland and "NZDT" in auckland


def test_the_cache_never_serves_an_org_the_user_may_not_see(staff_client: Client, client: Client) -> None:
    from django.contrib.auth import get_user_model

    url = next_url(staff_client)
    staff_client.get(url, HTTP_HX_REQUEST="true")
    outsider = get_user_model().objects.create_user("outsider", password="x-long-password-1")
    client.force_login(outsider)
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404


def test_no_cache_when_caching_is_off(staff_client: Client, settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.INVENT_CACHE_SECONDS = 0  # type: ignore[attr-defined]
    url = next_url(staff_client)
    staff_client.get(url, HTTP_HX_REQUEST="true")
    calls: list[object] = []
    original = InventClient.get_json
    monkeypatch.setattr(InventClient, "get_json", lambda self, *a, **k: calls.append(a) or original(self, *a, **k))
    staff_client.get(url, HTTP_HX_REQUEST="true")
    assert calls
