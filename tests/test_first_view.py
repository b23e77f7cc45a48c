"""The first view and what follows it: one upstream round for the first response, then the spans and the
header's history from their own request (or inline, without JavaScript), and the audit trail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from tests.fake_invent import EPOCH, FakeFeed, serving_fake_feed
from timeline_site.invent.client import InventClient
from timeline_site.invent.spans import activity_spans, streams_for_page
from timeline_site.invent.timeline import timeline_page
from timeline_site.timeline.models import TimelineView

pytestmark = pytest.mark.django_db
ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])
ADA_SPANS = reverse("contact_spans", args=["northwind", "ct_ada"])
FAKE = reverse("contact_timeline", args=["northwind", "ct_fake"])
HX = {"HTTP_HX_REQUEST": "true"}
SPAN_LINE = re.compile(r'<p id="span-(\d+)" class="span-note[^"]*"[^>]*>([^<]*)</p>')


@pytest.fixture
def upstream_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path the dashboard asks Invent for (the calls still go through)."""
    calls: list[str] = []
    original = InventClient.get_json

    def counted(self: InventClient, path: str, params: Any = None) -> Any:
        calls.append(path)
        return original(self, path, params)

    monkeypatch.setattr(InventClient, "get_json", counted)
    return calls


def spans_url(html: str) -> str:
    loader = re.search(r'<div class="spans-loader" data-hx-get="([^"]+)" data-hx-trigger="load"', html)
    assert loader, "no spans loader"
    return loader.group(1).replace("&amp;", "&")


@pytest.mark.parametrize("parallel", [True, False])
def test_the_first_view_is_one_upstream_round_of_at_most_two_calls_and_holds_fifty_cards(
    staff_client: Client, upstream_calls: list[str], settings: Any, parallel: bool
) -> None:
    settings.INVENT_PARALLEL_FETCH = parallel
    response = staff_client.get(ADA)
    html = response.content.decode()
    assert response.status_code == 200 and html.count("<article ") == 50
    assert len(upstream_calls) <= 2
    assert sorted(upstream_calls) == ["/orgs/northwind/contacts/ct_ada", "/orgs/northwind/contacts/ct_ada/activities"]
    assert "<h1><bdi>Ada Lovelace</bdi></h1>" in html  # the header shows what the record says at once
    assert spans_url(html) == ADA_SPANS  # ...and the rest follows
    lines = SPAN_LINE.findall(html)
    assert lines and all(text == "" for _, text in lines)  # every paired card has its line reserved


def test_the_spans_request_fills_the_reserved_lines_and_the_header_state(staff_client: Client) -> None:
    html = staff_client.get(ADA).content.decode()
    reserved = {pos for pos, _ in SPAN_LINE.findall(html)}
    response = staff_client.get(spans_url(html), **HX)
    body = response.content.decode()
    assert response.status_code == 200 and response["HX-Reswap"] == "none"
    filled = re.findall(r'<p id="span-(\d+)" class="span-note[^"]*" data-span="(?:still|ended|lasted)" '
                        r'data-hx-swap-oob="true">([^<]+)</p>', body)  # fmt: skip
    assert filled and {pos for pos, _ in filled} <= reserved
    state = re.search(
        r'<div id="contact-state" class="contact-state" data-hx-swap-oob="true">.*?\n  </div>', body, re.S
    )
    assert state and "<time datetime=" in state.group(0)  # the segments' starts, from history
    assert "Working out since when" not in body and "<article" not in body


def test_a_repeated_spans_request_is_answered_from_the_fragment_cache(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = spans_url(staff_client.get(ADA).content.decode())
    first = staff_client.get(url, **HX)
    monkeypatch.setattr(InventClient, "get_json", lambda *a, **k: pytest.fail("upstream call on cached spans"))
    repeat = staff_client.get(url, **HX)
    assert repeat.content == first.content and repeat["HX-Reswap"] == "none"


def test_without_javascript_the_page_asks_again_for_everything_inline(staff_client: Client) -> None:
    html = staff_client.get(ADA, {"type": ["contact_blocked", "contact_unblocked"]}).content.decode()
    refresh = re.search(r'<noscript><meta http-equiv="refresh" content="0; url=([^"]+)"></noscript>', html)
    assert refresh
    again = refresh.group(1).replace("&amp;", "&")
    assert again == ADA + "?type=contact_blocked&type=contact_unblocked&inline=1"
    inline = staff_client.get(again).content.decode()
    assert "spans-loader" not in inline and "http-equiv" not in inline and "Working out since when" not in inline
    inline_notes = dict(SPAN_LINE.findall(inline))
    assert inline_notes and all(inline_notes.values())  # every paired card says how long, inline
    # The same words the spans request would have swapped in.
    followed = dict(re.findall(r'<p id="span-(\d+)" [^>]*data-hx-swap-oob="true">([^<]+)</p>',
                               staff_client.get(spans_url(html), **HX).content.decode()))  # fmt: skip
    assert followed == {pos: text for pos, text in inline_notes.items() if pos in followed}
    assert set(followed) == set(inline_notes)


def test_a_no_javascript_older_page_carries_its_spans_inline(staff_client: Client) -> None:
    heavy = reverse("contact_timeline", args=["northwind", "ct_heavy"])
    older = re.search(r'<a class="button older" href="([^"]+)"', staff_client.get(heavy).content.decode())
    assert older
    url = older.group(1).replace("&amp;", "&")
    page = staff_client.get(url).content.decode()  # the link as a browser without JavaScript follows it
    assert "<html" in page and "spans-loader" not in page
    inline = {pos: text for pos, text in SPAN_LINE.findall(page) if text}
    assert inline
    # The same page by htmx, with its spans from the follow-up request, says the same.
    fragment = staff_client.get(url, **HX).content.decode()
    followed = dict(re.findall(r'<p id="span-(\d+)" [^>]*data-hx-swap-oob="true">([^<]+)</p>',
                               staff_client.get(spans_url(fragment), **HX).content.decode()))  # fmt: skip
    assert followed == inline


# --- A first page whose pairs are complete on it reads nothing more ---------------------------


@pytest.fixture
def feed() -> Iterator[FakeFeed]:
    with serving_fake_feed(INVENT_CACHE_SECONDS=60, INVENT_BUDGET_PER_MINUTE=0) as fake:
        yield fake


def block_and_unblock_on_page_one(feed: FakeFeed, *, older_notes: int) -> None:
    feed.add("blk", "contact_blocked", EPOCH + timedelta(days=1))
    feed.add("unb", "contact_unblocked", EPOCH + timedelta(days=4))
    feed.notes(older_notes, EPOCH - timedelta(days=30))  # older than both: pages 2, 3, ...


@pytest.mark.parametrize("older_notes", [120, 0], ids=["more-pages", "whole-timeline"])
def test_a_first_page_with_its_pairs_complete_makes_no_further_calls_for_spans(
    staff_client: Client, feed: FakeFeed, older_notes: int
) -> None:
    block_and_unblock_on_page_one(feed, older_notes=older_notes)
    feed.contact = {"id": "ct_fake", "name": "Fay Fake", "blocked": False, "unsubscribed": False}
    html = staff_client.get(FAKE).content.decode()
    assert html.count("<article ") == min(50, 2 + older_notes)
    assert (len(feed.calls), feed.contact_calls) == (1, 1)  # the first view: one round
    response = staff_client.get(spans_url(html), **HX)
    body = response.content.decode()
    assert (len(feed.calls), feed.contact_calls) == (1, 1)  # the spans: nothing more read
    notes = dict(re.findall(r'<p id="span-(\d+)" [^>]*data-hx-swap-oob="true">([^<]+)</p>', body))
    assert sorted(notes.values()) == ["Blocked for 3 days", "Unblocked 3 days later"]
    assert 'id="contact-state"' in body


def test_a_whole_timeline_on_one_page_tells_the_state_without_a_contact_record(
    staff_client: Client, feed: FakeFeed
) -> None:
    block_and_unblock_on_page_one(feed, older_notes=3)
    feed.add("uns", "contact_unsubscribed", EPOCH + timedelta(days=5), metadata={"reason": "too_many_emails"})
    html = staff_client.get(FAKE).content.decode()
    assert "<h1><bdi>ct_fake</bdi></h1>" in html
    body = staff_client.get(spans_url(html), **HX).content.decode()
    assert len(feed.calls) == 1  # every stream was already whole
    assert 'data-status="unsubscribed"' in body and "Reason: <bdi>Too many emails</bdi>" in body
    assert 'data-status="blocked"' not in body and "read from its activity history" in body


def test_seeded_streams_read_nothing_for_pairs_complete_on_the_page(feed: FakeFeed) -> None:
    block_and_unblock_on_page_one(feed, older_notes=120)
    with override_settings(TIMELINE_PAGE_SIZE=10):
        page = timeline_page(org_id="northwind", contact_id="ct_fake")
    assert page.next_cursor is not None and len(feed.calls) == 1
    seeded = streams_for_page(org_id="northwind", contact_id="ct_fake", activities=page.activities, types=(),
                              from_top=True, complete=False)  # fmt: skip
    spans = activity_spans(org_id="northwind", contact_id="ct_fake", activities=page.activities, streams=seeded)
    assert spans is not None and spans["blk"].end == spans["unb"].end and len(feed.calls) == 1
    # Not read from the top (a later page): the type streams must be read.
    unseeded = streams_for_page(org_id="northwind", contact_id="ct_fake", activities=page.activities, types=(),
                                from_top=False, complete=False)  # fmt: skip
    assert activity_spans(org_id="northwind", contact_id="ct_fake", activities=page.activities, streams=unseeded)
    assert {c.get("type") for c in feed.calls[1:]} == {"contact_blocked", "contact_unblocked"}


# --- The audit trail ----------------------------------------------------------------------------


def rows() -> list[tuple[str, str, str]]:
    return list(TimelineView.objects.values_list("org_id", "contact_id", "contact_name"))


def test_a_filter_change_by_htmx_is_a_reading_and_is_recorded_once_in_five_minutes(staff_client: Client) -> None:
    url = ADA + "?type=note_created"
    response = staff_client.get(url, HTTP_HX_TARGET="timeline", **HX)
    assert response.status_code == 200 and response.content.decode().lstrip().startswith('<section id="timeline"')
    assert rows() == [("northwind", "ct_ada", "")]
    staff_client.get(ADA, HTTP_HX_TARGET="timeline", **HX)
    staff_client.get(ADA)  # the full page names the contact on the row already there
    assert rows() == [("northwind", "ct_ada", "Ada Lovelace")]
    # Five minutes pass: for the row, and for the note the audit keeps in the cache for as long.
    TimelineView.objects.update(viewed_at=timezone.now() - timedelta(minutes=6))
    cache.clear()
    staff_client.get(url, HTTP_HX_TARGET="timeline", **HX)
    assert len(rows()) == 2


def test_a_scrolled_page_and_the_spans_request_keep_to_the_one_row(staff_client: Client) -> None:
    html = staff_client.get(ADA).content.decode()
    older = re.search(r'<a class="button older" href="([^"]+)"', html)
    assert older
    staff_client.get(older.group(1).replace("&amp;", "&"), **HX)
    staff_client.get(spans_url(html), **HX)
    assert rows() == [("northwind", "ct_ada", "Ada Lovelace")]


def test_a_head_request_is_nobody_reading(staff_client: Client) -> None:
    assert staff_client.head(ADA).status_code == 200
    assert rows() == []


def test_another_user_or_contact_gets_a_row_of_its_own(staff_client: Client, staff_user: Any) -> None:
    from django.contrib.auth import get_user_model

    from timeline_site.timeline.models import OrgAccess

    staff_client.get(ADA)
    staff_client.get(reverse("contact_timeline", args=["northwind", "ct_heavy"]))
    other = get_user_model().objects.create_user("other", password="x-long-password-1")
    OrgAccess.objects.create(user=other, org_id="northwind")
    client = Client()
    client.force_login(other)
    client.get(ADA, HTTP_HX_TARGET="timeline", **HX)
    assert sorted(TimelineView.objects.values_list("user__username", "contact_id")) == [
        ("agent", "ct_ada"), ("agent", "ct_heavy"), ("other", "ct_ada"),
    ]  # fmt: skip


def test_any_page_of_a_timeline_is_a_reading_whatever_the_headers(staff_client: Client) -> None:
    """A full page opened with a cursor (an "Older activities" link without JavaScript, or a link passed
    on) and an appended page asked for directly both show the contact's timeline: each is recorded."""
    heavy = reverse("contact_timeline", args=["northwind", "ct_heavy"])
    older = re.search(r'<a class="button older" href="([^"]+)"', staff_client.get(heavy).content.decode())
    assert older

    def fresh_start() -> None:  # no reading recorded: no row, and no note of one in the cache
        TimelineView.objects.all().delete()
        cache.clear()

    fresh_start()
    staff_client.get(older.group(1).replace("&amp;", "&"))
    assert rows() == [("northwind", "ct_heavy", "Henrietta Heavy")]
    fresh_start()
    staff_client.get(older.group(1).replace("&amp;", "&"), **HX)
    assert rows() == [("northwind", "ct_heavy", "")]
