"""The timeline page through Django's test client, on the embedded demo Invent."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from timeline_site.invent.client import InventClient
from timeline_site.invent.cursor import SALT, Cursor, encode_cursor
from timeline_site.invent.types import KNOWN_ACTIVITY_TYPES

pytestmark = pytest.mark.django_db
ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])
HEAVY = reverse("contact_timeline", args=["northwind", "ct_heavy"])
HX = {"HTTP_HX_REQUEST": "true"}

# What each type's card must say, beyond the common article wrapper.
CARD_MARKERS = {
    "note_created": ['class="note-text"', '<h3 class="card-title" id="t-1">Note</h3>'],
    "file_uploaded": ['class="file ', "File uploaded", 'class="file-size"'],
    "segment_added": ["Added to segment", 'class="chip seg-'],
    "segment_removed": ["Removed from segment", 'class="chip seg-'],
    "contact_blocked": ["Contact blocked"],
    "contact_unblocked": ["Contact unblocked"],
    "contact_unsubscribed": ["Unsubscribed</h3>"],
    "contact_resubscribed": ["Resubscribed</h3>"],
}


def article_ids(html: str) -> list[str]:
    return re.findall(r'data-activity-id="([^"]+)"', html)


def article_types(html: str) -> set[str]:
    return set(re.findall(r'data-activity-type="([^"]+)"', html))


def next_url(html: str) -> str | None:
    match = re.search(r'<a class="button older" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.mark.parametrize("activity_type", KNOWN_ACTIVITY_TYPES)
@pytest.mark.parametrize("as_fragment", [False, True], ids=["full", "fragment"])
def test_every_card_type_renders(staff_client: Client, activity_type: str, as_fragment: bool) -> None:
    response = staff_client.get(ADA, {"type": activity_type}, **(HX if as_fragment else {}))
    html = response.content.decode()
    assert response.status_code == 200
    assert article_types(html) == {activity_type}
    for marker in CARD_MARKERS[activity_type]:
        assert marker in html
    assert ("<html" in html) is not as_fragment
    assert ('role="feed"' in html) is not as_fragment


def test_full_page_has_header_filters_first_page_and_pager(staff_client: Client) -> None:
    response = staff_client.get(ADA)
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert 'role="feed"' in html and html.count("<article") == 50
    assert 'aria-posinset="1"' in html and re.search(r'aria-setsize="\d+"', html)
    assert "Find another contact" in html
    assert next_url(html) is not None and "Older activities" in html
    assert response["Vary"] and "HX-Request" in response["Vary"]
    assert html.count('name="type"') == len(KNOWN_ACTIVITY_TYPES)


def test_performers_staff_assistant_and_system_are_distinct(staff_client: Client) -> None:
    html = staff_client.get(HEAVY).content.decode()
    assert "performer-staff" in html and "performer-assistant" in html and "performer-system" in html
    assert "AI assistant</span>" in html


def test_times_are_relative_with_exact_time_and_zone(staff_client: Client) -> None:
    staff_client.cookies["tz"] = "Europe/Paris"
    html = staff_client.get(ADA).content.decode()
    assert re.search(r'<time datetime="2026-\d\d-\d\dT[^"]+" data-exact="[^"]+ CET"', html)
    assert 'data-time-zone="Europe/Paris"' in html


def test_an_unknown_time_zone_falls_back_to_utc(staff_client: Client) -> None:
    staff_client.cookies["tz"] = "Mars/Olympus_Mons"
    html = staff_client.get(ADA).content.decode()
    assert 'data-time-zone="UTC"' in html


def test_day_headers_do_not_repeat_across_pages(staff_client: Client) -> None:
    first = staff_client.get(HEAVY).content.decode()
    url = next_url(first)
    assert url
    second = staff_client.get(url, **HX).content.decode()
    last_day_first_page = re.findall(r'<h2 class="day-header">([^<]+)</h2>', first)[-1]
    first_article_second = second.split("<article", 2)[1]
    # The second page only starts with a header if its first card is on a new day.
    headers_second = re.findall(r'<h2 class="day-header">([^<]+)</h2>', first_article_second)
    assert headers_second != [last_day_first_page]


def test_fragment_appends_next_page_and_replaces_pager_out_of_band(staff_client: Client) -> None:
    first = staff_client.get(HEAVY).content.decode()
    url = next_url(first)
    assert url
    response = staff_client.get(url, **HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="pager" class="pager" data-hx-swap-oob="true"' in html
    assert not set(article_ids(html)) & set(article_ids(first))
    assert 'aria-posinset="51"' in html


def test_without_javascript_the_older_link_is_a_full_page(staff_client: Client) -> None:
    first = staff_client.get(HEAVY).content.decode()
    url = next_url(first)
    assert url
    html = staff_client.get(url).content.decode()
    assert "<html" in html and 'role="feed"' in html
    assert len(article_ids(html)) == 50 and not set(article_ids(html)) & set(article_ids(first))


def test_history_restore_gets_the_full_page(staff_client: Client) -> None:
    html = staff_client.get(ADA, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true").content.decode()
    assert "<html" in html


def test_filter_change_renders_the_whole_timeline_section(staff_client: Client) -> None:
    html = staff_client.get(ADA, {"type": ["note_created", "segment_added"]}, HTTP_HX_TARGET="timeline", **HX)
    text = html.content.decode()
    assert text.lstrip().startswith('<section id="timeline"')
    assert article_types(text) == {"note_created", "segment_added"}
    # The chips stay in their sheet outside #timeline; what is chosen is updated out of band.
    assert '<span id="filter-count" data-hx-swap-oob="true"> (2)' in text
    showing = re.search(
        r'<p id="filters-showing" class="showing" role="status" data-hx-swap-oob="true">(.*?)</p>', text
    )
    assert showing and "Clear" in showing.group(1)


def test_scrolling_to_the_end_shows_every_activity_once(staff_client: Client) -> None:
    ids: list[str] = []
    html = staff_client.get(ADA).content.decode()
    ids += article_ids(html)
    for _ in range(10):
        url = next_url(html)
        if not url:
            break
        html = staff_client.get(url, **HX).content.decode()
        ids += article_ids(html)
    assert "data-timeline-end" in html
    total = int(re.search(r'aria-setsize="(\d+)"', html).group(1))  # type: ignore[union-attr]
    assert len(ids) == len(set(ids)) == total


def test_activities_added_between_pages_never_appear_twice(staff_client: Client) -> None:
    html = staff_client.get(ADA).content.decode()
    seen = article_ids(html)
    call_command("demo_invent_add_activity", "--org", "northwind", "--contact", "ct_ada", "--count", "9", verbosity=0)
    while url := next_url(html):
        html = staff_client.get(url, **HX).content.decode()
        seen += article_ids(html)
    assert len(seen) == len(set(seen))


def test_empty_states_differ_for_no_activity_and_no_match(staff_client: Client) -> None:
    empty = staff_client.get(reverse("contact_timeline", args=["northwind", "ct_empty"])).content.decode()
    assert 'data-empty="none"' in empty and "No activity yet" in empty
    filtered = staff_client.get(reverse("contact_timeline", args=["northwind", "ct_empty"]), {"type": "note_created"})
    assert 'data-empty="filtered"' in filtered.content.decode()


def _token(payload: dict[str, Any], salt: str = SALT) -> str:
    from django.core import signing

    return signing.dumps(payload, salt=salt, compress=True)


GOOD = {"b": "2026-11-01T10:00:00+00:00", "s": [], "p": [2], "c": [107], "n": 50}
MALFORMED = "The paging position in this link is malformed or out of date."


def _tampered() -> str:
    token = encode_cursor(Cursor(before=datetime(2026, 11, 1, 10, tzinfo=UTC), seen=(), pages=(2,), shown=50))
    payload, signature = token.rsplit(":", 1)
    return payload + ":" + ("A" if signature[0] != "A" else "B") + signature[1:]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"type": "contact_exploded"}, "is not an activity type"),
        ({"cursor": "yesterday"}, MALFORMED),
        ({"cursor": _token(GOOD)[:-4]}, MALFORMED),  # truncated
        ({"cursor": _token(GOOD)[:20]}, MALFORMED),
        ({"cursor": "tampered"}, MALFORMED),
        ({"cursor": _token(GOOD, salt="another.purpose")}, MALFORMED),  # signed, but not a cursor
        ({"cursor": _token({**GOOD, "b": "yesterday"})}, MALFORMED),  # signed by another release
        ({"cursor": _token({**GOOD, "b": "2026-11-01T10:00:00"})}, MALFORMED),  # no zone
        ({"cursor": _token({**GOOD, "p": ["2,x"]})}, MALFORMED),
        ({"cursor": _token({**GOOD, "p": [999999999]})}, MALFORMED),
        ({"cursor": _token({**GOOD, "p": []})}, MALFORMED),
        ({"cursor": _token({**GOOD, "p": [1] * 9, "c": []})}, MALFORMED),
        ({"cursor": _token({**GOOD, "s": ["x"] * 101})}, MALFORMED),
        ({"cursor": _token({**GOOD, "n": -1})}, MALFORMED),
        ({"cursor": _token({k: v for k, v in GOOD.items() if k != "p"})}, MALFORMED),
        ({"cursor": "x" * 5000}, "at most 4096 characters"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HX, {**HX, "HTTP_HX_TARGET": "timeline"}], ids=["full", "page", "timeline"])
def test_bad_query_parameters_answer_400_with_a_message_and_no_upstream_call(
    staff_client: Client, no_upstream: list[str], query: dict[str, Any], message: str, headers: dict[str, str]
) -> None:
    if query.get("cursor") == "tampered":
        query = {"cursor": _tampered()}
    for url in (ADA, reverse("contact_spans", args=["northwind", "ct_ada"])):
        response = staff_client.get(url, query, **headers)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert no_upstream == []


def test_a_good_cursor_is_accepted(staff_client: Client) -> None:
    assert staff_client.get(ADA, {"cursor": _token(GOOD)}).status_code == 200


@pytest.mark.parametrize(
    ("contact", "status", "text"),
    [
        ("ct_nobody", 404, "Contact not found"),
        ("ct_ratelimited", 503, "Invent is busy"),
    ],
)
def test_first_page_failures_are_full_pages_with_a_fitting_status(
    staff_client: Client, contact: str, status: int, text: str
) -> None:
    response = staff_client.get(reverse("contact_timeline", args=["northwind", contact]))
    assert response.status_code == status
    html = response.content.decode()
    assert text in html and "<html" in html and "Try again" in html
    if status == 503:
        assert response["Retry-After"] == "30" and "30 seconds" in html


def test_wrong_key_is_explained_as_configuration(staff_client: Client, settings: Any) -> None:
    settings.INVENT_API_KEY = "not-the-demo-key"
    response = staff_client.get(ADA)
    assert response.status_code == 502
    assert "API key" in response.content.decode()


def test_unreachable_invent_is_explained(staff_client: Client, settings: Any) -> None:
    settings.DEMO_INVENT_ENABLED = False
    settings.INVENT_API_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.INVENT_CONNECT_TIMEOUT = 0.5
    response = staff_client.get(ADA)
    assert response.status_code == 502
    assert "Invent is not answering" in response.content.decode()


def test_a_later_page_failure_is_an_inline_retry_and_keeps_the_cards(staff_client: Client) -> None:
    first = staff_client.get(HEAVY).content.decode()
    url = next_url(first)
    assert url
    call_command("demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_heavy", "down", verbosity=0)
    response = staff_client.get(url, **HX)
    html = response.content.decode()
    assert response.status_code == 502
    assert response["HX-Reswap"] == "none"  # nothing on screen is replaced...
    assert 'id="pager" class="pager pager-error" data-hx-swap-oob="true"' in html  # ...but the pager
    assert "Retry</button>" in html and "<article" not in html
    call_command("demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_heavy", "normal", verbosity=0)
    retry = re.search(r'data-hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert retry == url
    assert len(article_ids(staff_client.get(retry, **HX).content.decode())) == 50


def test_stale_copy_is_served_with_a_note_when_invent_fails(staff_client: Client) -> None:
    from django.core.cache import cache

    from timeline_site.invent.cache import _key

    staff_client.get(ADA)
    call_command("demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_ada", "down", verbosity=0)
    cache.delete(_key("act", "northwind", "ct_ada", "all", 1, 50))  # the fresh copy has expired
    response = staff_client.get(ADA)
    html = response.content.decode()
    assert response.status_code == 200
    assert "may be out of date" in html and len(article_ids(html)) == 50


@pytest.mark.parametrize("appended", [False, True], ids=["first-page", "appended-page"])
def test_pages_get_their_spans_from_a_follow_up_request(staff_client: Client, appended: bool) -> None:
    first = staff_client.get(HEAVY).content.decode()
    html = staff_client.get(next_url(first), **HX).content.decode() if appended else first  # type: ignore[arg-type]
    loader = re.search(r'<div class="spans-loader" data-hx-get="([^"]+)" data-hx-trigger="load"', html)
    assert loader, "the spans follow in their own request"
    placeholders = re.findall(r'<p id="span-(\d+)" class="span-note span-empty"></p>', html)
    assert placeholders and not re.search(r'data-span="(still|ended|lasted)"', html)  # none inline yet
    response = staff_client.get(loader.group(1).replace("&amp;", "&"), **HX)
    assert response.status_code == 200 and response["HX-Reswap"] == "none"
    body = response.content.decode()
    notes = re.findall(r'<p id="span-(\d+)" class="span-note[^"]*"[^>]*data-hx-swap-oob="true">([^<]+)</p>', body)
    assert notes and {pos for pos, _ in notes} <= set(placeholders)
    assert "<article" not in body
    assert ('<div id="contact-state" class="contact-state" data-hx-swap-oob="true">' in body) is not appended


def test_a_repeated_fragment_is_served_from_the_cache_without_upstream_calls(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:

    url = next_url(staff_client.get(HEAVY).content.decode())
    assert url
    first = staff_client.get(url, **HX)
    monkeypatch.setattr(InventClient, "get_json", lambda *a, **k: pytest.fail("upstream call on a cached fragment"))
    second = staff_client.get(url, **HX)
    assert second.status_code == 200 and second.content == first.content


def test_a_stale_scrolled_page_says_so(staff_client: Client) -> None:
    from django.core.cache import cache

    from timeline_site.invent.cache import _key

    url = next_url(staff_client.get(HEAVY).content.decode())
    assert url
    staff_client.get(url, **HX)
    call_command("demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_heavy", "down", verbosity=0)
    # Everything fresh has expired; only the stale copy of page 2 is left.
    stale_key = _key("act", "northwind", "ct_heavy", "all", 2, 50) + ":stale"
    stale_copy = cache.get(stale_key)
    cache.clear()
    cache.set(stale_key, stale_copy)
    html = staff_client.get(url, **HX).content.decode()
    assert len(article_ids(html)) == 50 and "may be out of date" in html


def test_many_segments_fold_after_six_so_the_timeline_stays_near_the_top(staff_client: Client) -> None:
    html = staff_client.get(HEAVY).content.decode()
    header = html.split('<section id="timeline"', 1)[0]
    segment_ids = re.findall(r'<li data-segment-id="([^"]+)"', header)
    assert len(segment_ids) > 6 and len(set(segment_ids)) == len(segment_ids)  # every segment is there...
    visible = header.split('<details class="more-segments">', 1)[0]
    assert len(re.findall(r"<li data-segment-id=", visible)) == 6  # ...six at once, the rest one tap away
    assert f"<summary>{len(segment_ids) - 6} more segments</summary>" in header
