"""Finding your place in a live feed (invent/locate.py, invent/newer.py), against a fake Invent at the HTTP layer:
the page of a moment in a bounded number of reads, the pages above it up to the newest (exactly once each, in
order, while the feed grows or shrinks), and the live check."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from tests.fake_invent import EPOCH, FakeFeed, serving_fake_feed
from timeline_site.invent.cursor import NewerCursor, decode_newer_cursor, encode_newer_cursor
from timeline_site.invent.locate import LocatedPage, Place, locate_page
from timeline_site.invent.newer import live_news, newer_page, top_cursor
from timeline_site.invent.timeline import timeline_page

SIZE = 50


@pytest.fixture
def feed() -> Iterator[FakeFeed]:
    with serving_fake_feed(TIMELINE_PAGE_SIZE=SIZE, INVENT_CACHE_SECONDS=0) as fake:
        yield fake


def ids(items: list[dict[str, Any]], types: tuple[str, ...] = ()) -> list[str]:
    return [a["id"] for a in items if not types or a["type"] in types]


def when(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["created_at"])


def locate(feed: FakeFeed, item: dict[str, Any], types: tuple[str, ...] = ()) -> LocatedPage:
    return locate_page(org_id="c", contact_id="ct", types=types, place=Place(moment=when(item), entry_id=item["id"]))


def scroll_up(located: LocatedPage, types: tuple[str, ...] = (), between: Any = None, limit: int = 400) -> list[str]:
    """Every page above a located page as the reader scrolling up gets them, put together newest first."""
    above: list[str] = []
    cursor, at_top = located.newer, located.at_top
    for _ in range(limit):
        if at_top:
            return above
        if callable(between):
            between()
        page = newer_page(org_id="c", contact_id="ct", types=types, cursor=cursor)
        assert not page.lost
        above = [a.id for a in page.activities] + above
        cursor, at_top = page.newer, page.at_top
    raise AssertionError("never reached the newest")


def bound(count: int, streams: int = 1) -> int:
    """The promised bound on upstream reads to open a located page: page 1, ceil(log2(pages - 1)) to bisect,
    the located page itself if the bisection did not read it, and the page after it (a full page of cards)."""
    pages = math.ceil(count / SIZE)
    return streams * (1 + math.ceil(math.log2(max(pages - 1, 1))) + 2)


# --- Locating --------------------------------------------------------------------------------


def test_an_entry_thousands_deep_opens_at_its_page_within_the_bound_of_reads(feed: FakeFeed) -> None:
    feed.seed(5200)  # like the demo's heavy contact: 104 pages of 50
    target = feed.items[3456]
    located = locate(feed, target)
    assert located.located and located.entry_found
    assert [a.id for a in located.page.activities] == ids(feed.items)[3456 : 3456 + SIZE]
    assert located.page.offset == 3456  # aria-posinset of the entry: 3457
    assert len(feed.calls) <= bound(5200) == 10
    assert len(feed.calls) == located.reads
    # Nothing before it was read page by page: a handful of bisection probes.
    assert len({c["page"] for c in feed.calls}) == len(feed.calls)


@pytest.mark.parametrize("index", [0, 1, 49, 50, 51, 229, 1000, 2599, 5150, 5199])
def test_every_depth_opens_at_the_entry_with_older_below(feed: FakeFeed, index: int) -> None:
    feed.seed(5200)
    located = locate(feed, feed.items[index])
    shown = [a.id for a in located.page.activities]
    assert shown[0] == feed.items[index]["id"] and located.entry_found
    assert shown == ids(feed.items)[index : index + SIZE]
    assert located.at_top is (index == 0)
    assert len(feed.calls) <= bound(5200)
    # Older activities continue below as on any page: the next page starts right after.
    assert located.page.next_cursor is not None or index + SIZE >= 5200
    if located.page.next_cursor is not None:
        below = timeline_page(org_id="c", contact_id="ct", cursor=located.page.next_cursor)
        assert [a.id for a in below.activities] == ids(feed.items)[index + SIZE : index + 2 * SIZE]


def test_a_deleted_entry_opens_where_it_was(feed: FakeFeed) -> None:
    feed.seed(600)
    gone = feed.items.pop(300)
    located = locate(feed, gone)
    assert located.located and not located.entry_found
    assert located.page.activities[0].id == feed.items[300]["id"]  # the next older one, in its place


def test_a_moment_between_activities_and_beyond_either_end(feed: FakeFeed) -> None:
    feed.seed(300)
    between = when(feed.items[120]) + timedelta(seconds=30)  # newer than item 120, older than item 119
    located = locate_page(org_id="c", contact_id="ct", place=Place(moment=between))
    assert located.page.activities[0].id == feed.items[120]["id"] and located.page.offset == 120
    future = locate_page(org_id="c", contact_id="ct", place=Place(moment=EPOCH + timedelta(days=1)))
    assert future.at_top and future.page.activities[0].id == feed.items[0]["id"]
    past = locate_page(org_id="c", contact_id="ct", place=Place(moment=EPOCH - timedelta(days=3650)))
    assert past.page.activities == () and not past.at_top and past.page.next_cursor is None
    assert scroll_up(past) == ids(feed.items)  # the whole timeline is above it


def test_several_types_are_located_stream_by_stream(feed: FakeFeed) -> None:
    feed.seed(2000)
    wanted = ("note_created", "segment_added")
    matching = [a for a in feed.items if a["type"] in wanted]
    located = locate(feed, matching[700], wanted)
    assert [a.id for a in located.page.activities] == ids(matching)[700 : 700 + SIZE]
    assert located.page.offset == 700
    assert {c.get("type") for c in feed.calls} == set(wanted)
    assert len(feed.calls) <= bound(len(matching), streams=2)


def test_a_filter_of_too_many_streams_opens_the_newest_page_instead(
    feed: FakeFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed.seed(2000)
    monkeypatch.setattr("timeline_site.invent.locate.MAX_LOCATE_READS", 8)
    wanted = ("note_created", "segment_added", "file_uploaded")
    located = locate(feed, feed.items[1500], wanted)
    assert not located.located and located.at_top and located.cursor is None
    assert [a.id for a in located.page.activities] == ids(feed.items, wanted)[:SIZE]


# --- Newer: the pages above ------------------------------------------------------------------


def test_scrolling_up_from_the_230th_gives_exactly_the_229_newer_in_order(feed: FakeFeed) -> None:
    feed.seed(5200)
    located = locate(feed, feed.items[229])
    calls_before = len(feed.calls)
    above = scroll_up(located)
    assert above == ids(feed.items)[:229]
    assert len(feed.calls) - calls_before <= 2 * math.ceil(229 / SIZE) + 2  # about one page read per page above


def test_several_types_scroll_up_to_the_newest_in_order(feed: FakeFeed) -> None:
    feed.seed(1500)
    wanted = ("file_uploaded", "contact_blocked")
    matching = [a for a in feed.items if a["type"] in wanted]
    located = locate(feed, matching[333], wanted)
    assert scroll_up(located, wanted) == ids(matching)[:333]


def test_growth_at_the_top_while_scrolling_up_is_neither_skipped_nor_repeated(feed: FakeFeed) -> None:
    feed.seed(1200)
    located = locate(feed, feed.items[400])
    original_above = ids(feed.items)[:400]
    above = scroll_up(located, between=lambda: feed.add_newest(7))
    assert len(above) == len(set(above))
    added = [i for i in ids(feed.items) if i not in original_above and i not in ids(feed.items)[400:]]
    assert above == ids(feed.items)[: len(added) + 400]  # everything newer than the entry, newest included
    assert set(added) <= set(above)


def test_deletions_above_while_scrolling_up_skip_nothing_that_remains(feed: FakeFeed) -> None:
    feed.seed(900)
    located = locate(feed, feed.items[350])
    state = {"n": 0}

    def delete_some() -> None:
        state["n"] += 1
        if state["n"] <= 3:
            del feed.items[5:8]  # three near the top, above what is being read

    above = scroll_up(located, between=delete_some)
    remaining = ids(feed.items)
    anchor = remaining.index(located.page.activities[0].id)
    assert above == remaining[:anchor]


def test_a_page_cached_before_growth_is_read_again_not_trusted(feed: FakeFeed) -> None:
    feed.seed(200)
    with override_settings(INVENT_CACHE_SECONDS=60):
        cache.clear()
        located = locate(feed, feed.items[75])  # reads (and caches) pages 1, 2
        feed.add_newest(3)
        # Another request reads page 1 afresh (the cache has it; drop it as if it had expired).
        cache.delete_many([k for k in ("invent:v1:act:c:ct:all:1:50",)])
        page = newer_page(org_id="c", contact_id="ct", cursor=located.newer)
        above = [a.id for a in page.activities]
        # Page 1 fresh (count 203) and page 2 cached (count 200) disagree: page 2 is read again, so the
        # three activities pushed from page 1 onto page 2 are not skipped.
        assert above == ids(feed.items)[78 - SIZE : 78]
        cache.clear()


def test_the_page_above_a_newest_page_is_what_arrived_since(feed: FakeFeed) -> None:
    feed.seed(120)
    first = timeline_page(org_id="c", contact_id="ct")
    top = top_cursor(first, types=())
    empty = newer_page(org_id="c", contact_id="ct", cursor=top)
    assert empty.activities == () and empty.at_top and not empty.lost
    feed.add_newest(3)
    page = newer_page(org_id="c", contact_id="ct", cursor=top)
    assert [a.id for a in page.activities] == ids(feed.items)[:3] and page.at_top and page.offset == 0
    again = newer_page(org_id="c", contact_id="ct", cursor=page.newer)
    assert again.activities == () and again.at_top


def test_a_newer_cursor_round_trips_signed_and_refuses_tampering() -> None:
    from timeline_site.invent.cursor import CursorError

    cursor = NewerCursor(after=EPOCH, seen=("abc123abc123",), positions=(3, 0), counts=(10, None), top=4)
    token = encode_newer_cursor(cursor)
    assert decode_newer_cursor(token) == cursor
    for bad in (token[:-2], token + "x", "", "a" * 5000, token.replace(token[5], "A" if token[5] != "A" else "B")):
        with pytest.raises(CursorError):
            decode_newer_cursor(bad)


# --- Live: anything new? ---------------------------------------------------------------------


def test_the_live_check_counts_new_activities_from_one_small_read_per_stream(feed: FakeFeed) -> None:
    feed.seed(80)
    top = top_cursor(timeline_page(org_id="c", contact_id="ct"), types=())
    feed.calls.clear()
    news = live_news(org_id="c", contact_id="ct", cursor=top)
    assert news is not None and news.count == 0
    assert feed.calls == [{"page": "1", "take": "1"}]
    feed.add_newest(3)
    news = live_news(org_id="c", contact_id="ct", cursor=top)
    assert news is not None and news.count == 3 and news.exact
    shown = newer_page(org_id="c", contact_id="ct", cursor=news.cursor)
    assert [a.id for a in shown.activities] == ids(feed.items)[:3] and shown.at_top


def test_the_live_check_is_shared_through_the_cache(feed: FakeFeed) -> None:
    feed.seed(30)
    top = top_cursor(timeline_page(org_id="c", contact_id="ct"), types=())
    with override_settings(INVENT_CACHE_SECONDS=15):
        cache.clear()
        feed.calls.clear()
        for _ in range(5):  # five viewers of the contact, or one for two minutes
            live_news(org_id="c", contact_id="ct", cursor=top)
        assert len(feed.calls) == 1
        cache.clear()


def test_the_live_check_stops_when_the_shared_budget_is_low(feed: FakeFeed) -> None:
    from timeline_site.invent.budget import budget_spend

    feed.seed(10)
    top = top_cursor(timeline_page(org_id="c", contact_id="ct"), types=())
    for _ in range(8):  # other pages' calls: 8 of the 10 a minute used
        budget_spend(per_minute=1000)
    with override_settings(INVENT_BUDGET_PER_MINUTE=10):
        feed.calls.clear()
        assert live_news(org_id="c", contact_id="ct", cursor=top) is None
        assert feed.calls == []  # not even the small read


def test_the_live_check_under_a_type_filter_reads_each_type(feed: FakeFeed) -> None:
    feed.seed(100)
    wanted = ("note_created", "file_uploaded")
    top = top_cursor(timeline_page(org_id="c", contact_id="ct", types=wanted), types=wanted)
    feed.add_newest(2)  # notes
    feed.calls.clear()
    news = live_news(org_id="c", contact_id="ct", types=wanted, cursor=top)
    assert news is not None and news.count == 2
    assert sorted(c["type"] for c in feed.calls) == sorted(wanted)


def test_much_growth_at_the_top_moves_where_the_page_above_is_read(feed: FakeFeed) -> None:
    feed.seed(1000)
    located = locate(feed, feed.items[300])
    feed.add_newest(160)  # three pages' worth arrive while the reader looks at the entry
    feed.calls.clear()
    page = newer_page(org_id="c", contact_id="ct", cursor=located.newer)
    assert [a.id for a in page.activities] == ids(feed.items)[460 - SIZE : 460]
    assert len(feed.calls) <= 3  # the anchor's page is worked out from the count, not walked down to


def test_a_page_above_that_cannot_be_joined_to_what_is_shown_says_so(feed: FakeFeed) -> None:
    feed.seed(1200)
    located = locate(feed, feed.items[1000])
    # Made for another filter (one stream per type): the anchor is looked for from the top, and is too deep.
    stray = NewerCursor(after=located.newer.after, seen=located.newer.seen, positions=(0, 0), counts=(None, None))
    page = newer_page(org_id="c", contact_id="ct", cursor=stray)
    assert page.lost and page.activities == ()
    assert len(feed.calls) <= bound(1200) + 5  # bounded: it gives up rather than reading on


def test_under_an_actor_filter_a_page_above_moves_past_what_it_passed_over(feed: FakeFeed) -> None:
    feed.seed(400)
    for index, item in enumerate(feed.items):
        if index % 9 == 0:
            item["assistant"] = {"id": "ast", "name": "Nova"}
    located = locate_page(org_id="c", contact_id="ct", actors=("assistant",),
                          place=Place(moment=when(feed.items[300])))  # fmt: skip
    assert all(a.assistant is not None for a in located.page.activities)
    above: list[str] = []
    cursor, at_top = located.newer, located.at_top
    while not at_top:
        page = newer_page(org_id="c", contact_id="ct", actors=("assistant",), cursor=cursor)
        above = [a.id for a in page.activities] + above
        cursor, at_top = page.newer, page.at_top
    assert above == [a["id"] for i, a in enumerate(feed.items[:300]) if i % 9 == 0]
