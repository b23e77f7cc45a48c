"""The timeline service over a live, shifting upstream feed: no duplicates, no gaps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.fake_invent import FakeFeed, serving_fake_feed
from timeline_site.invent.timeline import Cursor, TimelinePage, stream_types, timeline_page


@pytest.fixture
def feed() -> Iterator[FakeFeed]:
    with serving_fake_feed(TIMELINE_PAGE_SIZE=10, INVENT_CACHE_SECONDS=0) as fake:
        yield fake


def read_all(types: tuple[str, ...] = (), between_pages: object = None, limit: int = 200) -> list[str]:
    shown: list[str] = []
    cursor: Cursor | None = None
    for _ in range(limit):
        page: TimelinePage = timeline_page(org_id="c", contact_id="ct", types=types, cursor=cursor)
        shown += [a.id for a in page.activities]
        if page.next_cursor is None:
            return shown
        cursor = page.next_cursor
        if callable(between_pages):
            between_pages()
    raise AssertionError("the timeline never ended")


def test_reads_everything_once_in_order(feed: FakeFeed) -> None:
    feed.seed(95)
    shown = read_all()
    assert shown == [a["id"] for a in feed.items]


def test_additions_while_scrolling_never_duplicate_or_skip(feed: FakeFeed) -> None:
    feed.seed(95)
    original = [a["id"] for a in feed.items]
    shown = read_all(between_pages=lambda: feed.add_newest(7))
    assert len(shown) == len(set(shown))
    assert shown == original  # exactly the feed as it was when scrolling started


def test_deletions_while_scrolling_never_skip(feed: FakeFeed) -> None:
    feed.seed(95)
    state = {"page": 0}

    def delete_shown_items() -> None:
        # Delete three items already on screen: older items move up a page.
        state["page"] += 1
        if state["page"] <= 3:
            del feed.items[0:3]

    expected_ids = [a["id"] for a in feed.items]
    shown = read_all(between_pages=delete_shown_items)
    assert len(shown) == len(set(shown))
    assert shown == expected_ids


def test_ties_on_created_at_are_neither_duplicated_nor_skipped(feed: FakeFeed) -> None:
    feed.seed(60, same_second_every=7)  # runs of 7 activities sharing one timestamp, across page edges
    shown = read_all()
    assert sorted(shown) == sorted(a["id"] for a in feed.items)
    assert len(shown) == len(set(shown))


def test_several_types_merge_newest_first_without_duplicates(feed: FakeFeed) -> None:
    feed.seed(120)
    wanted = ("note_created", "segment_added")
    shown = read_all(types=wanted, between_pages=lambda: feed.add_newest(3))
    expected = [a["id"] for a in feed.items if a["type"] in wanted and int(a["id"][1:]) <= 120]
    assert shown == expected
    # one upstream stream per type: Invent filters on a single type
    assert {c.get("type") for c in feed.calls} == set(wanted)


def test_first_page_is_one_upstream_call_and_reports_the_total(feed: FakeFeed) -> None:
    feed.seed(35)
    page = timeline_page(org_id="c", contact_id="ct")
    assert len(feed.calls) == 1
    assert page.total == 35 and len(page.activities) == 10 and page.offset == 0
    assert page.next_cursor is not None and page.next_cursor.shown == 10


def test_all_types_selected_is_one_unfiltered_stream() -> None:
    from timeline_site.invent.types import KNOWN_ACTIVITY_TYPES

    assert stream_types(list(KNOWN_ACTIVITY_TYPES)) == (None,)
    assert stream_types([]) == (None,)
    assert stream_types(["segment_added", "note_created", "note_created"]) == ("note_created", "segment_added")


def test_empty_timeline_has_no_cursor(feed: FakeFeed) -> None:
    page = timeline_page(org_id="c", contact_id="ct")
    assert page.activities == () and page.next_cursor is None and page.total == 0


def test_a_long_same_second_run_of_long_ids_still_fits_in_one_short_link(feed: FakeFeed) -> None:
    from django.http import QueryDict
    from django.utils.http import urlencode

    from timeline_site.invent.cursor import encode_cursor
    from timeline_site.timeline.forms import TimelineQueryForm

    feed.seed(40, same_second_every=40)  # forty activities in the same second...
    for item in feed.items:
        item["id"] = "activity-" + item["id"] + "-" + "x" * 200  # ...with 200-character ids
    shown: list[str] = []
    cursor = None
    for _ in range(10):
        page = timeline_page(org_id="c", contact_id="ct", cursor=cursor)
        shown += [a.id for a in page.activities]
        if page.next_cursor is None:
            break
        query = urlencode({"cursor": encode_cursor(page.next_cursor)})
        assert len(query) < 2000  # far under gunicorn's 4094-byte request line
        form = TimelineQueryForm(QueryDict(query))
        assert form.is_valid(), form.errors
        cursor = form.cleaned_data["cursor"]
        assert cursor == page.next_cursor
    assert sorted(shown) == sorted(a["id"] for a in feed.items) and len(shown) == len(set(shown))


def test_impossible_dates_are_skipped_not_a_crash(feed: FakeFeed) -> None:
    feed.seed(3)
    feed.items.append({"id": "far", "type": "note_created", "created_at": "9999-12-31T23:59:59Z"})
    feed.items.append({"id": "early", "type": "note_created", "created_at": "0001-01-01T00:00:00Z"})
    page = timeline_page(org_id="c", contact_id="ct")
    assert [a.id for a in page.activities] == [a["id"] for a in feed.items[:3]]
    assert page.skipped == 2


def test_parallel_streams_charge_the_request_its_slowest_stream_only(feed: FakeFeed) -> None:
    from timeline_site.invent.client import upstream_ms

    feed.seed(40)
    feed.delay = 0.05
    charged = []
    with override_settings(INVENT_PARALLEL_FETCH=True):
        for _ in range(3):
            upstream_ms.set(0.0)
            timeline_page(org_id="c", contact_id="ct", types=("note_created", "segment_added", "file_uploaded"))
            charged.append(upstream_ms.get())
    # Three streams in parallel cost one slow call each time; pool threads must not carry earlier requests' time.
    assert all(45 <= ms < 120 for ms in charged), charged


@pytest.mark.parametrize("parallel", [False, True])
def test_a_full_page_reads_timeline_and_contact_together_and_survives_a_missing_contact(
    feed: FakeFeed, parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timeline_site.invent.timeline import first_view

    monkeypatch.setattr("timeline_site.invent.client.time.sleep", lambda seconds: None)
    feed.seed(12)
    with override_settings(INVENT_PARALLEL_FETCH=parallel):
        page, contact = first_view(org_id="c", contact_id="ct", types=(), cursor=None)
    assert len(page.activities) == 10 and contact is None  # the fake has no contact record: only the header is lost
    assert [c.get("page") for c in feed.calls] == ["1"]  # the timeline's one read (the contact is not a feed call)
