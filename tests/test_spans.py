"""State spans: blocked/unblocked, unsubscribed/resubscribed and segment added/removed, paired.

The service is tested over a fake Invent at the HTTP layer (`responses`), so
the real client, parser and type filters run; the view tests run against the
embedded demo and check every paired card of a contact, page after page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from tests.fake_invent import FakeFeed, serving_fake_feed
from timeline_site.demo_invent.models import DemoActivity
from timeline_site.invent.contact_state import contact_state, spans_and_state
from timeline_site.invent.kinds import SpanState
from timeline_site.invent.pairing import ActivitySpan
from timeline_site.invent.spans import activity_spans
from timeline_site.invent.streams import StreamSet
from timeline_site.invent.types import Contact, Segment
from timeline_site.timeline.display import duration_text, span_text

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def feed() -> Iterator[FakeFeed]:
    with serving_fake_feed(INVENT_CACHE_SECONDS=0, INVENT_BUDGET_PER_MINUTE=0) as fake:
        yield fake


def spans_for(feed: FakeFeed, *ids: str, max_pages: int = 3) -> dict[str, ActivitySpan]:
    """Spans that must be worked out (None, "stepped aside", fails the test)."""
    streams = StreamSet(org_id="c", contact_id="ct", max_pages=max_pages)
    spans = activity_spans(org_id="c", contact_id="ct", activities=[feed.activity(i) for i in ids], streams=streams)
    assert spans is not None, "the spans stepped aside"
    return spans


def others_in_between(feed: FakeFeed, count: int, start: datetime) -> None:
    """`count` adds to other segments, one a minute from `start`: more than one upstream page of 100."""
    for i in range(count):
        feed.segment(f"x{i:03d}", "segment_added", start + timedelta(minutes=i), f"seg_{i}")


# --- Pairing ------------------------------------------------------------------------------


def test_a_block_and_its_unblock_say_how_long_it_lasted(feed: FakeFeed) -> None:
    feed.add("b1", "contact_blocked", T0)
    feed.add("u1", "contact_unblocked", T0 + timedelta(days=3, hours=2))
    feed.add("b2", "contact_blocked", T0 + timedelta(days=10))
    spans = spans_for(feed, "b1", "u1", "b2")
    assert spans["u1"] == ActivitySpan(SpanState.BLOCKED, False, T0, T0 + timedelta(days=3, hours=2))
    assert span_text(spans["u1"]) == "Blocked for 3 days"
    assert span_text(spans["b1"]) == "Unblocked 3 days later"
    assert spans["b2"].still and span_text(spans["b2"]) == "Still blocked"


def test_the_other_half_on_a_page_not_loaded_is_found_in_the_type_streams(feed: FakeFeed) -> None:
    feed.add("s1", "contact_unsubscribed", T0, metadata={"reason": "too_many_emails"})
    feed.notes(250, T0 + timedelta(hours=1))  # pages and pages of notes in between
    feed.add("r1", "contact_resubscribed", T0 + timedelta(days=16))
    # The newest page shows only the resubscription; the oldest only the unsubscription.
    assert span_text(spans_for(feed, "r1")["r1"]) == "Unsubscribed for 2 weeks"
    assert span_text(spans_for(feed, "s1")["s1"]) == "Resubscribed 2 weeks later"
    assert {c.get("type") for c in feed.calls} == {"contact_unsubscribed", "contact_resubscribed"}


def test_segments_pair_per_segment_id(feed: FakeFeed) -> None:
    feed.segment("a1", "segment_added", T0, "seg_vip")
    feed.segment("a2", "segment_added", T0 + timedelta(days=1), "seg_trial")
    feed.segment("r1", "segment_removed", T0 + timedelta(days=5), "seg_vip")
    spans = spans_for(feed, "a1", "a2", "r1")
    assert span_text(spans["r1"]) == "In this segment for 5 days"
    assert spans["r1"].segment_id == "seg_vip" and spans["r1"].start == T0
    assert span_text(spans["a1"]) == "Removed 5 days later"
    assert span_text(spans["a2"]) == "Still in this segment"


def test_a_removed_segment_added_long_before_is_still_paired(feed: FakeFeed) -> None:
    feed.segment("old", "segment_added", T0, "seg_vip")
    others_in_between(feed, 150, T0 + timedelta(days=10))  # push seg_vip's add past the first page of adds
    feed.segment("gone", "segment_removed", T0 + timedelta(days=30), "seg_vip")
    spans = spans_for(feed, "gone")
    assert spans["gone"].start == T0 and not spans["gone"].at_least
    assert span_text(spans["gone"]) == "In this segment for 4 weeks"
    added_pages = sorted(int(c["page"]) for c in feed.calls if c.get("type") == "segment_added")
    assert added_pages == [1, 2]  # read as deep as needed, and no deeper


def test_same_instant_block_and_unblock_pair_in_the_order_the_state_allows(feed: FakeFeed) -> None:
    # Invent's order for equal timestamps is undocumented: the ids here sort the "wrong" way round.
    feed.add("z-block", "contact_blocked", T0)
    feed.add("a-unblock", "contact_unblocked", T0)
    spans = spans_for(feed, "z-block", "a-unblock")
    assert span_text(spans["a-unblock"]) == "Blocked for less than a minute"
    assert span_text(spans["z-block"]) == "Unblocked within a minute"


def test_a_closing_event_with_no_opening_on_record_says_nothing(feed: FakeFeed) -> None:
    feed.add("u1", "contact_unblocked", T0)
    assert spans_for(feed, "u1") == {}


def test_beyond_the_read_bound_nothing_is_claimed(feed: FakeFeed) -> None:
    feed.add("b-old", "contact_blocked", T0)  # the 206th newest block: beyond 2 pages of 100
    for i in range(1, 206):
        feed.add(f"u{i:03d}", "contact_unblocked", T0 + timedelta(hours=i))
        feed.add(f"b{i:03d}", "contact_blocked", T0 + timedelta(hours=i, minutes=30))
    feed.add("u-new", "contact_unblocked", T0 + timedelta(hours=205, minutes=30) + timedelta(days=95))
    spans = spans_for(feed, "u-new", "u001", "b-old", max_pages=2)
    assert span_text(spans["u-new"]) == "Blocked for 3 months"  # its block was read
    assert "u001" not in spans and "b-old" not in spans  # what was read does not reach them
    assert len(feed.calls) == 2 * 2  # two streams, two pages each: the bound


def test_an_opening_beyond_the_read_bound_makes_it_at_least(feed: FakeFeed) -> None:
    feed.segment("old", "segment_added", T0, "seg_vip")
    others_in_between(feed, 205, T0 + timedelta(days=10))  # other segments' adds fill the pages that may be read
    feed.segment("gone", "segment_removed", T0 + timedelta(days=30), "seg_vip")
    spans = spans_for(feed, "gone", max_pages=2)
    # The 200th newest of 205 adds is the oldest read.
    assert spans["gone"].at_least and spans["gone"].start == T0 + timedelta(days=10, minutes=5)
    assert span_text(spans["gone"]) == "In this segment for at least 2 weeks"


def test_an_upstream_failure_costs_the_spans_not_the_page(feed: FakeFeed) -> None:
    feed.add("b1", "contact_blocked", T0)
    activity = feed.activity("b1")
    feed.fail = True
    assert activity_spans(org_id="c", contact_id="ct", activities=[activity]) is None  # stepped aside
    assert feed.calls  # it did try


def test_no_paired_events_means_no_upstream_calls(feed: FakeFeed) -> None:
    feed.notes(3, T0)
    assert spans_for(feed, "n0000", "n0001") == {}
    assert feed.calls == []


def test_spans_step_aside_when_the_upstream_budget_is_nearly_spent(feed: FakeFeed, settings: Any) -> None:
    from timeline_site.invent.budget import budget_spend

    settings.INVENT_BUDGET_PER_MINUTE = 10
    for _ in range(9):
        budget_spend(per_minute=10)
    feed.add("b1", "contact_blocked", T0)
    assert activity_spans(org_id="c", contact_id="ct", activities=[feed.activity("b1")]) is None
    assert feed.calls == []


# --- The current state --------------------------------------------------------------------


def test_the_contact_record_wins_and_events_fill_in_the_reason(feed: FakeFeed) -> None:
    feed.add("b1", "contact_blocked", T0, metadata={"reason": "Spam"})
    blocked_at = T0 + timedelta(seconds=1)
    contact = Contact(id="ct", blocked=True, blocked_at=blocked_at, segments=(Segment("seg_vip", "VIP"),))
    feed.segment("a1", "segment_added", T0 - timedelta(days=2), "seg_vip")
    state = contact_state(org_id="c", contact_id="ct", contact=contact)
    assert state.blocked and state.blocked_since == blocked_at
    assert state.block_event is not None and state.block_event.metadata["reason"] == "Spam"
    assert state.unsubscribed is False and state.unsubscribed_since is None
    assert state.segments is not None and state.segments[0].since == T0 - timedelta(days=2)


def test_without_a_contact_record_the_state_comes_from_the_latest_events(feed: FakeFeed) -> None:
    feed.add("b1", "contact_blocked", T0)
    feed.add("u1", "contact_unblocked", T0 + timedelta(days=1))
    feed.add("s1", "contact_unsubscribed", T0 + timedelta(days=2), metadata={"reason": "other", "feedback": "Bye"})
    feed.segment("a1", "segment_added", T0, "seg_vip")
    feed.segment("a2", "segment_added", T0, "seg_trial")
    feed.segment("r2", "segment_removed", T0 + timedelta(days=3), "seg_trial")
    state = contact_state(org_id="c", contact_id="ct", contact=None)
    assert state.from_events and state.blocked is False
    assert state.unsubscribed and state.unsubscribed_since == T0 + timedelta(days=2)
    assert (state.unsubscribe_reason, state.unsubscribe_feedback) == ("other", "Bye")
    assert state.segments is not None and [m.segment.id for m in state.segments] == ["seg_vip"]


def test_without_a_contact_record_or_events_the_state_is_unknown(feed: FakeFeed) -> None:
    feed.fail = True
    assert contact_state(org_id="c", contact_id="ct", contact=None).blocked is None


@pytest.mark.parametrize(
    ("length", "text"),
    [
        (timedelta(seconds=59), "less than a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=5, minutes=59), "5 hours"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=13), "13 days"),
        (timedelta(days=15), "2 weeks"),
        (timedelta(days=95), "3 months"),
        (timedelta(days=800), "2 years"),
    ],
)
def test_durations_read_as_staff_say_them(length: timedelta, text: str) -> None:
    assert duration_text(length) == text


# --- The timeline page, against the demo ----------------------------------------------------

ADA = "/orgs/northwind/contacts/ct_ada/"
PAIRS = {
    "contact_blocked": ("contact_unblocked", "Blocked for", "Unblocked", "Still blocked"),
    "contact_unsubscribed": ("contact_resubscribed", "Unsubscribed for", "Resubscribed", "Still unsubscribed"),
    "segment_added": ("segment_removed", "In this segment for", "Removed", "Still in this segment"),
}
CLOSERS = {closer: opener for opener, (closer, *_rest) in PAIRS.items()}


def expected_notes(contact_id: str) -> dict[str, str]:
    """An independent oracle: replay the demo's events oldest first (its ids sort like its order)."""
    rows = DemoActivity.objects.filter(contact__contact_id=contact_id).order_by("created_at", "activity_id")
    open_since: dict[tuple[str, str], DemoActivity] = {}
    notes: dict[str, str] = {}
    for row in rows:
        opener = row.type if row.type in PAIRS else CLOSERS.get(row.type)
        if opener is None:
            continue
        key = (opener, (row.data.get("segment") or {}).get("id", ""))
        _closer, lasted, ended, still = PAIRS[opener]
        if row.type == opener:
            open_since[key] = row
            notes[row.activity_id] = still
        elif key in open_since:
            start = open_since.pop(key)
            length = row.created_at - start.created_at
            notes[row.activity_id] = f"{lasted} {duration_text(length)}"
            notes[start.activity_id] = (
                f"{ended} within a minute"
                if length < timedelta(minutes=1)
                else f"{ended} {duration_text(length)} later"
            )
    return notes


def shown_notes(html: str) -> dict[str, str]:
    notes = {}
    for article in re.findall(r"<article .*?</article>", html, flags=re.S):
        ident = re.search(r'data-activity-id="([^"]+)"', article).group(1)  # type: ignore[union-attr]
        note = re.search(r'<p id="span-\d+" class="span-note[^"]*"[^>]*>([^<]*)</p>', article)
        assert note or "data-span" not in article
        if note and note.group(1):  # an empty line is reserved for a span that follows
            notes[ident] = note.group(1)
    return notes


def read_every_page(client: Client, url: str, *, javascript: bool = True) -> tuple[dict[str, str], dict[str, int]]:
    """Spans shown on every card, and the page each card was on: as htmx reads them (each page's spans from
    the request its pager makes), or without JavaScript (full pages that carry their spans inline)."""
    html = client.get(url if javascript else url + "?inline=1").content.decode()
    notes, pages = shown_notes(html), {}
    assert (notes == {}) is javascript  # with JavaScript, the first response does not wait for spans
    notes.update(followed_notes(client, html))
    page = 1
    while True:
        pages.update(dict.fromkeys(re.findall(r'data-activity-id="([^"]+)"', html), page))
        found = re.search(r'<a class="button older" href="([^"]+)"', html)
        if not found:
            return notes, pages
        page += 1
        older = found.group(1).replace("&amp;", "&")
        if javascript:
            html = client.get(older, HTTP_HX_REQUEST="true").content.decode()
            notes.update(followed_notes(client, html))
        else:
            html = client.get(older).content.decode()
            assert "<html" in html and "spans-loader" not in html
        notes.update(shown_notes(html))


def followed_notes(client: Client, fragment: str) -> dict[str, str]:
    """Appended pages get their spans from the request their pager makes once they are on screen."""
    loader = re.search(r'class="spans-loader" data-hx-get="([^"]+)"', fragment)
    if not loader:
        return {}
    position_to_id = dict(re.findall(r'data-activity-id="([^"]+)"[^>]*?aria-posinset="(\d+)"', fragment, flags=re.S))
    by_position = {pos: ident for ident, pos in position_to_id.items()}
    spans = client.get(loader.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true").content.decode()
    return {
        by_position[pos]: text
        for pos, text in re.findall(
            r'<p id="span-(\d+)" class="span-note[^"]*"[^>]*data-hx-swap-oob="true">([^<]*)</p>', spans
        )
    }


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_every_paired_card_of_a_contact_says_how_long_across_pages(
    staff_client: Client, settings: Any, javascript: bool
) -> None:
    settings.TIMELINE_PAGE_SIZE = 10  # six pages, so many pairs straddle two of them
    expected = expected_notes("ct_ada")
    notes, pages = read_every_page(staff_client, ADA, javascript=javascript)
    assert notes == expected
    # Both kinds of notes, and pairs whose halves were on different pages, are all covered.
    assert any(n.startswith("Still ") for n in notes.values()) and any(" for " in n for n in notes.values())
    rows = DemoActivity.objects.filter(contact__contact_id="ct_ada", type__in=[*PAIRS, *CLOSERS])
    by_time = sorted(rows, key=lambda r: (r.created_at, r.activity_id))
    straddling = [
        (a.activity_id, b.activity_id) for a in by_time for b in by_time
        if a.type in PAIRS and b.type == PAIRS[a.type][0] and pages[a.activity_id] != pages[b.activity_id]
    ]  # fmt: skip
    assert straddling


def test_a_filtered_timeline_still_pairs_with_the_hidden_half(staff_client: Client) -> None:
    html = staff_client.get(ADA + "?type=contact_unblocked").content.decode()
    assert shown_notes(html) == {}  # they follow
    notes = followed_notes(staff_client, html)
    assert notes == shown_notes(staff_client.get(ADA + "?type=contact_unblocked&inline=1").content.decode())
    assert notes and all(n.startswith("Blocked for") for n in notes.values())
    expected = expected_notes("ct_ada")
    assert all(notes[i] == expected[i] for i in notes)


def test_a_full_page_reads_each_stream_page_once_for_spans_and_header(feed: FakeFeed) -> None:
    feed.add("b1", "contact_blocked", T0)
    feed.add("u1", "contact_unblocked", T0 + timedelta(days=3))
    feed.add("b2", "contact_blocked", T0 + timedelta(days=9))
    feed.segment("s1", "segment_added", T0 + timedelta(days=1), "vip")
    activities = [feed.activity(ident) for ident in ("b2", "u1", "b1", "s1")]
    streams = StreamSet(org_id="c", contact_id="ct")
    spans, state = spans_and_state(org_id="c", contact_id="ct", activities=activities, contact=None, streams=streams)
    assert spans is not None and spans["b2"].still and state.blocked is True
    reads = [(call.get("type"), call.get("page")) for call in feed.calls]
    assert reads and len(reads) == len(set(reads))  # the cache is off here: sharing is what avoids a second read
