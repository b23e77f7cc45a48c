"""Filtering by who did it (`?by=staff|assistant|system`): only that kind shows, with the type chips, in
bounded reads per request that say when they stopped looking and continue from there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.fake_invent import EPOCH, FakeFeed, serving_fake_feed
from timeline_site.demo_invent.app import format_datetime
from timeline_site.demo_invent.models import DemoActivity
from timeline_site.invent.client import InventClient
from timeline_site.invent.cursor import Cursor
from timeline_site.invent.parse import parse_activity
from timeline_site.invent.timeline import MAX_UPSTREAM_PAGES_PER_STREAM, TimelinePage, actor_filter, timeline_page
from timeline_site.invent.types import ACTOR_KINDS, Activity

ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])
HEAVY = reverse("contact_timeline", args=["northwind", "ct_heavy"])
HX = {"HTTP_HX_REQUEST": "true"}


def upstream(org_id: str, contact_id: str) -> list[Activity]:
    """The demo Invent's activities of a contact, newest first, as Invent serves and the client parses them."""
    rows = DemoActivity.objects.filter(contact__org_id=org_id, contact__contact_id=contact_id)
    items = [
        {"id": r.activity_id, "type": r.type, "created_at": format_datetime(r.created_at), **r.data}
        for r in rows.order_by("-created_at", "-activity_id")
        if not r.data.get("_omit")
    ]
    return [parse_activity(item) for item in items]


def articles(html: str) -> list[tuple[str, str, str]]:
    """(id, type, actor kind) of every card."""
    return re.findall(
        r'<article [^>]*data-activity-id="([^"]+)" data-activity-type="([^"]+)" data-actor-kind="([^"]+)"', html
    )


def next_link(html: str) -> str | None:
    match = re.search(r'href="([^"]+)" data-next-page', html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
def activity_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The query of every upstream read of activities."""
    calls: list[dict[str, Any]] = []
    original = InventClient.get_json

    def counting(self: InventClient, path: str, params: Any = None) -> Any:
        if path.endswith("/activities"):
            calls.append(dict(params or {}))
        return original(self, path, params)

    monkeypatch.setattr(InventClient, "get_json", counting)
    return calls


# --- The ordinary contact ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ACTOR_KINDS)
def test_each_kind_alone_shows_exactly_its_own_activities(staff_client: Client, kind: str) -> None:
    html = staff_client.get(ADA, {"by": kind}).content.decode()
    shown = articles(html)
    assert shown, f"ct_ada has activity by {kind}"
    assert {k for _i, _t, k in shown} == {kind}
    expected = [a.id for a in upstream("northwind", "ct_ada") if a.actor_kind == kind]
    assert [i for i, _t, _k in shown] == expected[:50]


@pytest.mark.django_db
def test_actor_and_type_filters_combine(staff_client: Client) -> None:
    html = staff_client.get(
        ADA, {"by": ["staff", "system"], "type": ["note_created", "file_uploaded"]}
    ).content.decode()
    shown = articles(html)
    expected = [
        a.id for a in upstream("northwind", "ct_ada")
        if a.type in ("note_created", "file_uploaded") and a.actor_kind in ("staff", "system")
    ]  # fmt: skip
    assert [i for i, _t, _k in shown] == expected
    assert {k for _i, _t, k in shown} == {"staff", "system"}  # ct_ada has files with and without a colleague
    assert {t for _i, t, _k in shown} == {"note_created", "file_uploaded"}


@pytest.mark.django_db
def test_every_kind_at_once_is_the_whole_timeline(staff_client: Client) -> None:
    every = staff_client.get(ADA, {"by": list(ACTOR_KINDS)}).content.decode()
    plain = staff_client.get(ADA).content.decode()
    assert articles(every) == articles(plain)
    assert 'aria-setsize="60"' in every  # Invent's count still holds: nothing is filtered out


@pytest.mark.django_db
def test_chips_legend_clear_and_links_carry_the_actor_filter(staff_client: Client) -> None:
    html = staff_client.get(ADA, {"by": "assistant", "type": "note_created"}).content.decode()
    chips = re.findall(r'<input type="checkbox" name="by" value="(\w+)"[^>]*?( checked)?>', html)
    assert chips == [("staff", ""), ("assistant", " checked"), ("system", "")]
    for label in ("Staff", "AI assistant", "System"):
        assert f"<span>{label}</span>" in html
    assert "System: the contact's own actions, automations and anything without a person or assistant." in html
    assert "Clear filters" in html
    assert "by=assistant" in (next_link(html) or "by=assistant")  # a short timeline may end on this page
    assert re.search(r'href="[^"]*/export/\?type=note_created&amp;by=assistant&amp;format=csv"', html)
    assert "Showing: Notes, AI assistant" in html  # the filters in words, for print

    only_by = staff_client.get(ADA, {"by": "system"}).content.decode()
    assert "Clear filters" in only_by  # an actor filter alone is a filter too


@pytest.mark.django_db
def test_a_filter_change_by_htmx_filters_the_swapped_timeline(staff_client: Client) -> None:
    html = staff_client.get(ADA, {"by": "system"}, HTTP_HX_TARGET="timeline", **HX).content.decode()
    assert html.lstrip().startswith('<section id="timeline"')
    assert {k for _i, _t, k in articles(html)} == {"system"}
    assert "Showing: System" in html
    assert re.search(r'/export/\?by=system&amp;format=json"', html)


@pytest.mark.django_db
def test_an_unknown_actor_is_a_bad_link_before_any_upstream_call(
    staff_client: Client, activity_calls: list[dict[str, Any]]
) -> None:
    response = staff_client.get(ADA, {"by": "robot"})
    assert response.status_code == 400
    assert "is not who did an activity" in response.content.decode()
    assert activity_calls == []


@pytest.mark.django_db
def test_spans_follow_a_filtered_page(staff_client: Client) -> None:
    html = staff_client.get(ADA, {"by": "assistant"}).content.decode()
    spans_url = re.search(r'data-hx-get="([^"]+/spans/[^"]*)"', html)
    assert spans_url is not None and "by=assistant" in spans_url.group(1)
    response = staff_client.get(spans_url.group(1).replace("&amp;", "&"), **HX)
    assert response.status_code == 200


# --- Bounded reads on the heavy contact ------------------------------------------


@pytest.mark.django_db
def test_a_rare_combination_stops_at_the_read_bound_and_says_so(
    staff_client: Client, activity_calls: list[dict[str, Any]]
) -> None:
    # No AI assistant ever removes a segment in the demo: without a bound this would read all 486.
    html = staff_client.get(HEAVY, {"by": "assistant", "type": "segment_removed"}).content.decode()
    assert len(activity_calls) <= MAX_UPSTREAM_PAGES_PER_STREAM
    assert articles(html) == []
    scanned = 50 * MAX_UPSTREAM_PAGES_PER_STREAM
    assert f"No more AI-assistant activity of these types in the last {scanned} entries —" in html
    assert "keep looking</a>" in html
    # Only the explicit link goes on: no prefetch that would read the next 200 by itself.
    pager = html[html.index('<div id="pager"') :]
    assert 'data-hx-trigger="intersect once"' not in pager
    assert "Nothing matches these filters" not in html


@pytest.mark.django_db
def test_keep_looking_continues_from_there_to_the_end(
    staff_client: Client, activity_calls: list[dict[str, Any]]
) -> None:
    html = staff_client.get(HEAVY, {"by": "assistant", "type": "segment_removed"}).content.decode()
    requests = 0
    while (link := next_link(html)) is not None:
        activity_calls.clear()
        html = staff_client.get(link, **HX).content.decode()
        requests += 1
        assert len(activity_calls) <= MAX_UPSTREAM_PAGES_PER_STREAM
        assert articles(html) == []
        assert 'data-hx-trigger="intersect once"' not in html
        assert requests < 10
    assert requests == 2  # 486 removals, 200 looked at per request
    assert "No older activities match these filters." in html


@pytest.mark.django_db
def test_without_javascript_keep_looking_is_a_full_page(staff_client: Client) -> None:
    html = staff_client.get(HEAVY, {"by": "assistant", "type": "segment_removed"}).content.decode()
    link = next_link(html)
    assert link is not None
    response = staff_client.get(link)
    assert response.status_code == 200 and "<html" in response.content.decode()


@pytest.mark.django_db
def test_walking_a_rare_filter_over_two_streams_shows_each_match_once_in_order(
    staff_client: Client, activity_calls: list[dict[str, Any]]
) -> None:
    wanted = ("contact_blocked", "segment_removed")
    expected = [a.id for a in upstream("northwind", "ct_heavy") if a.type in wanted and a.actor_kind == "assistant"]
    html = staff_client.get(HEAVY, {"by": "assistant", "type": list(wanted)}).content.decode()
    shown = [i for i, _t, _k in articles(html)]
    for _ in range(20):
        link = next_link(html)
        if link is None:
            break
        activity_calls.clear()
        html = staff_client.get(link, **HX).content.decode()
        assert len(activity_calls) <= 8  # two streams, four pages each at most
        shown += [i for i, _t, _k in articles(html)]
    assert next_link(html) is None
    assert len(expected) > 50 and shown == expected


# --- The service over a live feed ------------------------------------------------


@pytest.fixture
def feed() -> Iterator[FakeFeed]:
    with serving_fake_feed(TIMELINE_PAGE_SIZE=10, INVENT_CACHE_SECONDS=0) as fake:
        yield fake


def _who(index: int) -> dict[str, Any]:
    if index % 17 == 0:
        return {"assistant": {"id": "ast_1", "name": "Nova"}}
    if index % 3 == 0:
        return {}
    return {"actor": {"id": "usr_1", "name": "Ann"}}


def _seed(feed: FakeFeed, count: int, *, tie_every: int = 0) -> None:
    kinds = ("note_created", "file_uploaded", "segment_removed")
    for i in range(count):
        minute = i - i % tie_every if tie_every else i
        feed.add(f"x{i:04d}", kinds[i % 3], EPOCH - timedelta(minutes=minute), **_who(i))


def _read_all(feed: FakeFeed, *, types: tuple[str, ...] = (), actors: tuple[str, ...], grow: int = 0) -> list[str]:
    shown: list[str] = []
    cursor: Cursor | None = None
    for _ in range(100):
        before = len(feed.calls)
        page: TimelinePage = timeline_page(org_id="c", contact_id="ct", types=types, actors=actors, cursor=cursor)
        assert len(feed.calls) - before <= 8
        shown += [a.id for a in page.activities]
        if page.next_cursor is None:
            return shown
        cursor = page.next_cursor
        if grow:
            for j in range(grow):
                when = EPOCH + timedelta(hours=1, seconds=len(feed.items))
                feed.add(f"new{len(feed.items)}-{j}", "note_created", when, assistant={"id": "ast_1", "name": "Nova"})
    raise AssertionError("the timeline never ended")


@pytest.mark.parametrize("tie_every", [0, 7])
@pytest.mark.parametrize("types", [(), ("note_created", "segment_removed")])
def test_bounded_pages_show_each_match_once_while_the_feed_grows(
    feed: FakeFeed, tie_every: int, types: tuple[str, ...]
) -> None:
    _seed(feed, 400, tie_every=tie_every)
    expected = [
        a["id"] for a in feed.items
        if "assistant" in a and (not types or a["type"] in types)
    ]  # fmt: skip
    assert _read_all(feed, types=types, actors=("assistant",), grow=3) == expected


def test_a_dense_stream_and_a_sparse_one_interleave_without_gaps(feed: FakeFeed) -> None:
    # Four pages of notes cover 40 minutes, four pages of removals 400: what the removals hold below
    # the notes' 40 minutes must wait until the notes have been read that far.
    assistant = {"assistant": {"id": "ast_1", "name": "Nova"}}
    for i in range(300):
        feed.add(f"n{i:04d}", "note_created", EPOCH - timedelta(minutes=i), **(assistant if i % 4 == 0 else {}))
    for i in range(60):
        feed.add(f"s{i:04d}", "segment_removed", EPOCH - timedelta(minutes=10 * i, seconds=30),
                 **(assistant if i % 4 == 0 else {}))  # fmt: skip
    types = ("note_created", "segment_removed")
    expected = [a["id"] for a in feed.items if "assistant" in a]
    assert _read_all(feed, types=types, actors=("assistant",)) == expected


def test_a_bounded_page_says_how_many_entries_it_looked_through(feed: FakeFeed) -> None:
    _seed(feed, 400)
    page = timeline_page(org_id="c", contact_id="ct", actors=("assistant",))
    assert page.scanned == 40 and len(feed.calls) == 4  # four pages of ten, then it stops
    assert page.total is None  # Invent's count is of all actors
    assert [a.actor_kind for a in page.activities] == ["assistant"] * 3  # x0000, x0017, x0034
    unbounded = timeline_page(org_id="c", contact_id="ct", actors=("staff",))
    assert unbounded.scanned is None and len(unbounded.activities) == 10


def test_actor_filter_of_every_kind_or_none_is_no_filter() -> None:
    assert actor_filter(()) is None
    assert actor_filter(ACTOR_KINDS) is None
    assert actor_filter(("assistant", "nobody")) == frozenset({"assistant"})
