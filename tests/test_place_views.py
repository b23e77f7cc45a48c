"""Finding your place through Django's test client, on the embedded demo Invent: permalinks, Go to date, the pages
above, the live check, "new since your last visit", and bad links refused before any upstream call."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from timeline_site.demo_invent.models import DemoActivity, DemoContact
from timeline_site.demo_invent.seed import add_activities
from timeline_site.invent.cursor import NewerCursor, encode_newer_cursor
from timeline_site.timeline.models import TimelineView
from timeline_site.timeline.place_links import format_moment

pytestmark = pytest.mark.django_db
ORG = "northwind"
ADA = reverse("contact_timeline", args=[ORG, "ct_ada"])
HEAVY = reverse("contact_timeline", args=[ORG, "ct_heavy"])
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "timeline-feed"}


def article_ids(page: str) -> list[str]:
    return re.findall(r'<article [^>]*data-activity-id="([^"]+)"', page)


def attribute(page: str, pattern: str) -> str | None:
    match = re.search(pattern, page)
    return html.unescape(match.group(1)) if match else None


def upstream(contact_id: str) -> list[DemoActivity]:
    rows = DemoActivity.objects.filter(contact__org_id=ORG, contact__contact_id=contact_id)
    return [r for r in rows.order_by("-created_at", "-activity_id") if not r.data.get("_omit")]


def permalink(row: DemoActivity, **filters: str) -> str:
    query = "&".join([*(f"{k}={v}" for k, v in filters.items()), f"entry={row.activity_id}",
                      f"at={format_moment(row.created_at)}"])  # fmt: skip
    return f"{reverse('contact_timeline', args=[ORG, row.contact.contact_id])}?{query}"


# --- Permalinks ------------------------------------------------------------------------------


def test_every_card_has_a_permalink_that_keeps_the_filters(staff_client: Client) -> None:
    page = staff_client.get(ADA, {"type": ["note_created", "file_uploaded"], "by": "staff"}).content.decode()
    links = [html.unescape(h) for h in re.findall(r'<a class="permalink" href="([^"]+)" data-permalink>', page)]
    assert len(links) == len(article_ids(page)) > 0
    for link, activity_id in zip(links, article_ids(page), strict=True):
        assert link.startswith(ADA + "?type=note_created&type=file_uploaded&by=staff&entry=")
        assert f"entry={activity_id}&at=" in link and link.endswith("#place")
    assert 'Link<span class="visually-hidden"> to this activity</span>' in page


def test_a_permalink_230_deep_opens_there_marked_with_newer_above(staff_client: Client) -> None:
    rows = upstream("ct_heavy")
    response = staff_client.get(permalink(rows[229]))
    page = response.content.decode()
    assert response.status_code == 200
    assert article_ids(page) == [r.activity_id for r in rows[229:279]]
    marked = re.search(r'<article [^>]*aria-current="true"[^>]*>', page)
    assert marked and f'data-activity-id="{rows[229].activity_id}"' in marked.group(0)
    assert 'id="place"' in marked.group(0) and 'aria-posinset="230"' in marked.group(0)
    assert page.count('aria-current="true"') == 1
    assert "Newer activities" in page and "data-live-url" not in page  # not the newest: no live check here
    spans = attribute(page, r'class="spans-loader" data-hx-get="([^"]+)"')
    assert spans is not None and "cursor=" in spans  # its spans are asked for the page it is
    assert staff_client.get(spans, **HX).status_code in (200, 204)


def test_the_pages_above_reach_the_newest_exactly_once_in_order(staff_client: Client) -> None:
    rows = upstream("ct_heavy")
    page = staff_client.get(permalink(rows[229])).content.decode()
    newer = attribute(page, r'<a class="button button-quiet newer" href="([^"]+)"')
    above: list[str] = []
    while newer:
        fragment = staff_client.get(newer, **HX).content.decode()
        assert "<html" not in fragment and 'data-hx-swap-oob="true"' in fragment
        above = article_ids(fragment) + above
        assert re.findall(r'aria-labelledby="t-(n[0-9a-f]{12})"', fragment)  # element ids that cannot collide
        spans = attribute(
            fragment, r'<div id="newer-spans" data-hx-swap-oob="beforeend"><div [^>]*data-hx-get="([^"]+)"'
        )
        if spans:  # the page's spans land in its own cards
            notes = staff_client.get(spans, **HX).content.decode()
            assert set(re.findall(r'id="(span-n[^"]+)"', notes)) <= set(re.findall(r'id="(span-n[^"]+)"', fragment))
        newer = attribute(fragment, r'<a class="button button-quiet newer" href="([^"]+)"')
        if newer is None:
            assert "data-at-top" in fragment and "data-live-url" in fragment  # the newest: the live check starts
    assert above == [r.activity_id for r in rows[:229]]


def test_a_page_above_asked_for_again_later_comes_from_the_fragment_cache(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The cache key is the cursor's place, not its signed token (which changes with the second it was signed)."""
    import django.core.signing

    from timeline_site.timeline.views import place

    settings.INVENT_CACHE_SECONDS = 60
    cursor = NewerCursor(after=datetime(2026, 11, 1, tzinfo=UTC), seen=(), positions=(0,), counts=(60,), top=1)
    first = staff_client.get(ADA, {"newer": encode_newer_cursor(cursor)}, **HX)
    assert first.status_code == 200
    later = django.core.signing.b62_encode(int(time.time()) + 120)  # signed two minutes on
    monkeypatch.setattr(django.core.signing.TimestampSigner, "timestamp", lambda self: later)
    reads: list[NewerCursor] = []
    original = place.newer_page

    def counted(**kwargs: Any) -> Any:
        reads.append(kwargs["cursor"])
        return original(**kwargs)

    monkeypatch.setattr(place, "newer_page", counted)
    again = staff_client.get(ADA, {"newer": encode_newer_cursor(cursor)}, **HX)
    assert again.status_code == 200 and reads == []  # not read, not rendered: the stored fragment
    assert article_ids(again.content.decode()) == article_ids(first.content.decode())


def test_without_javascript_newer_activities_is_a_page_of_its_own(staff_client: Client) -> None:
    rows = upstream("ct_heavy")
    page = staff_client.get(permalink(rows[229])).content.decode()
    newer = attribute(page, r'<a class="button button-quiet newer" href="([^"]+)"')
    assert newer is not None
    full = staff_client.get(newer).content.decode()
    assert "<html" in full and article_ids(full) == [r.activity_id for r in rows[179:229]]
    older = attribute(full, r'<a class="button older" href="([^"]+)"')
    assert older is not None
    below = staff_client.get(older).content.decode()
    assert article_ids(below)[0] == rows[229].activity_id  # and back down again, from the entry


def test_a_permalink_to_a_deleted_activity_opens_where_it_was_with_a_note(staff_client: Client) -> None:
    rows = upstream("ct_ada")
    gone = rows[20]
    link = permalink(gone).replace(gone.activity_id, "act_deleted_long_ago")
    page = staff_client.get(link).content.decode()
    assert article_ids(page)[0] == gone.activity_id  # the same moment: the next one at or before it
    assert "is no longer in the timeline" in page and 'data-place="near"' in page
    assert 'aria-current="true"' not in page


def test_too_many_types_to_locate_fall_back_to_the_newest_with_a_note(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline_site.invent.locate.MAX_LOCATE_READS", 2)
    rows = [r for r in upstream("ct_heavy") if r.type in ("note_created", "file_uploaded")]
    page = staff_client.get(permalink(rows[400], type="note_created&type=file_uploaded")).content.decode()
    assert "could not be found quickly" in page
    assert article_ids(page)[:3] == [r.activity_id for r in rows[:3]]


# --- Go to date ------------------------------------------------------------------------------


def test_go_to_date_opens_at_the_newest_activity_on_or_before_that_day(staff_client: Client) -> None:
    rows = upstream("ct_heavy")
    day = rows[1000].created_at.date()
    page = staff_client.get(HEAVY, {"at_time": day.isoformat()}).content.decode()
    first = next(r for r in rows if r.created_at.date() <= day)
    assert article_ids(page)[0] == first.activity_id
    assert re.search(r'<article [^>]*id="place"[^>]*aria-current="true"', page)
    assert f'value="{day.isoformat()}"' in page  # the field keeps the day asked for
    rows = upstream("ct_ada")  # about one activity a day or two: days without any
    quiet = next(newer.created_at.date() - timedelta(days=1) for r, newer in zip(rows[1:], rows, strict=False)
                 if (newer.created_at.date() - r.created_at.date()).days > 1)  # fmt: skip
    page = staff_client.get(ADA, {"at_time": quiet.isoformat()}).content.decode()
    assert "Nothing on " in page and "this is the newest activity before it" in page
    page = staff_client.get(HEAVY, {"at_time": "2001-01-01"}).content.decode()
    assert article_ids(page) == [] and "No activity on or before Monday 1 January 2001" in page


def test_the_go_to_date_form_keeps_the_filters(staff_client: Client) -> None:
    page = staff_client.get(ADA, {"type": "note_created", "by": "assistant"}).content.decode()
    form = re.search(r'<form class="go-to-date".*?</form>', page, re.S)
    assert form is not None
    assert '<input type="hidden" name="type" value="note_created">' in form.group(0)
    assert '<input type="hidden" name="by" value="assistant">' in form.group(0)
    assert 'type="date" name="at_time"' in form.group(0) and '<label for="go-to-date">Go to date</label>' in form.group(
        0
    )


# --- Live ------------------------------------------------------------------------------------


def test_the_live_check_says_how_many_are_new_and_they_come_in_above(staff_client: Client) -> None:
    page = staff_client.get(ADA).content.decode()
    live = attribute(page, r'data-live-url="([^"]+)"')
    assert live is not None and "/live/?newer=" in live
    assert staff_client.get(live).status_code == 204  # nothing new
    contact = DemoContact.objects.get(org_id=ORG, contact_id="ct_ada")
    added = [a.activity_id for a in add_activities(contact, count=3)]
    caches["default"].clear()  # the shared newest-activity read lives 25 s
    response = staff_client.get(live + "&seen=0")
    notice = response.content.decode()
    assert response.status_code == 200 and 'data-new-activities="3"' in notice and "3 new activities" in notice
    assert staff_client.get(live + "&seen=3").status_code == 204  # already told: not announced again
    show = attribute(notice, r'data-hx-get="([^"]+)"')
    assert show is not None
    fragment = staff_client.get(show, **HX).content.decode()
    assert article_ids(fragment) == added[::-1]
    assert "3 newer activities shown above." in fragment


def test_the_live_check_says_stop_when_the_shared_budget_is_low(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = attribute(staff_client.get(ADA).content.decode(), r'data-live-url="([^"]+)"')
    assert live is not None
    monkeypatch.setattr("timeline_site.invent.newer.budget_allows_spans", lambda: False)
    response = staff_client.get(live)
    assert response.status_code == 286 and response["HX-Reswap"] == "none"


# --- New since your last visit ----------------------------------------------------------------


def test_a_first_visit_has_no_divider(staff_client: Client) -> None:
    page = staff_client.get(ADA).content.decode()
    assert "data-last-visit" not in page and "data-new-since" not in page


def test_the_divider_falls_after_exactly_what_was_added_since_the_last_visit(
    staff_client: Client, staff_user: Any
) -> None:
    staff_client.get(ADA)  # the first visit
    visit = TimelineView.objects.get(user=staff_user, contact_id="ct_ada")
    TimelineView.objects.filter(pk=visit.pk).update(viewed_at=datetime.now(UTC) - timedelta(days=1))
    TimelineView.objects.create(user=staff_user, org_id=ORG, contact_id="ct_ada", action="export")  # not a visit
    contact = DemoContact.objects.get(org_id=ORG, contact_id="ct_ada")
    added = [a.activity_id for a in add_activities(contact, count=2)]
    caches["default"].clear()  # a day later: the first visit's pages are long gone from the cache
    page = staff_client.get(ADA).content.decode()
    articles = re.findall(r"<article .*?</article>", page, re.S)
    assert [a for a in articles if "data-last-visit" in a] == [articles[2]]
    assert article_ids(page)[:2] == added[::-1]
    assert re.search(
        r'data-new-since="2">2 new since your last visit <span class="muted">\(yesterday \d\d:\d\d\)', page
    )
    assert "Your last visit: yesterday" in articles[2]
    # Looking again a minute later: the last visit is the one a minute ago, and nothing is new since.
    page = staff_client.get(ADA).content.decode()
    assert re.search(r'data-new-since="0">Nothing new since your last visit <span class="muted">\(today ', page)
    assert "data-last-visit>" not in page


def test_a_long_absence_says_more_than_a_page_and_carries_the_divider_for_later(
    staff_client: Client, staff_user: Any
) -> None:
    TimelineView.objects.create(user=staff_user, org_id=ORG, contact_id="ct_heavy")
    TimelineView.objects.filter(contact_id="ct_heavy").update(viewed_at=upstream("ct_heavy")[70].created_at)
    page = staff_client.get(HEAVY).content.decode()
    assert "More than 50 new since your last visit" in page and "data-last-visit>" not in page.split("<template")[0]
    assert '<template id="last-visit-divider"' in page


# --- The page and bad links ------------------------------------------------------------------


def test_the_keys_dialog_and_the_live_region_are_on_the_page(staff_client: Client) -> None:
    page = staff_client.get(ADA).content.decode()
    assert '<dialog id="keys-dialog"' in page and "<kbd>j</kbd>" in page
    assert '<div id="live-notice" class="live-notice" role="status"' in page
    assert '<script src="/static/js/timeline.' in page


def _newer_token(**changes: Any) -> str:
    cursor = NewerCursor(after=datetime(2026, 11, 1, tzinfo=UTC), seen=(), positions=(0,), counts=(60,), top=1)
    return (
        encode_newer_cursor(cursor)
        if not changes
        else encode_newer_cursor(NewerCursor(**{**cursor.__dict__, **changes}))
    )


def _tampered_newer() -> str:
    token = encode_newer_cursor(NewerCursor(after=datetime(2026, 11, 1, tzinfo=UTC), seen=(), positions=(3,),
                                            counts=(60,), top=4))  # fmt: skip
    payload, signature = token.rsplit(":", 1)
    return payload + ":" + ("A" if signature[0] != "A" else "B") + signature[1:]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"entry": "a/b", "at": "2026-11-01T10:00:00Z"}, "activity id is not one Invent gives"),
        ({"entry": "x" * 257, "at": "2026-11-01T10:00:00Z"}, "at most 256 characters"),
        ({"entry": "act_1\n", "at": "2026-11-01T10:00:00Z"}, "activity id is not one Invent gives"),
        ({"entry": "act_1"}, "needs its time"),
        ({"at": "yesterday"}, "not a date and time with its zone"),
        ({"at": "2026-11-01T10:00:00"}, "not a date and time with its zone"),  # no zone
        ({"at": "2026-02-30T10:00:00Z"}, "not a date and time with its zone"),  # no such day
        ({"at": "x" * 41}, "at most 40 characters"),
        ({"at_time": "14/03/2026"}, "needs a date like"),
        ({"at_time": "2026-13-01"}, "needs a date like"),
        ({"newer": "tampered"}, "malformed or out of date"),
        ({"newer": "garbage"}, "malformed or out of date"),
        ({"at": "2026-11-01T10:00:00Z", "at_time": "2026-11-01"}, "more than one place"),
        ({"at_time": "2026-11-01", "newer": "good"}, "more than one place"),
    ],
)
@pytest.mark.parametrize("headers", [{}, HX], ids=["full", "fragment"])
def test_bad_place_parameters_answer_400_before_any_upstream_call(
    staff_client: Client, no_upstream: list[str], query: dict[str, str], message: str, headers: dict[str, str]
) -> None:
    query = {
        k: _tampered_newer() if v == "tampered" else _newer_token() if v == "good" else v for k, v in query.items()
    }
    for url in (ADA, reverse("contact_spans", args=[ORG, "ct_ada"])):
        response = staff_client.get(url, query, **headers)
        assert response.status_code == 400, response.content[:300]
        assert message in html.unescape(response.content.decode())
    assert no_upstream == []


@pytest.mark.parametrize(
    "query",
    [{}, {"newer": "garbage"}, {"newer": "tampered"}, {"newer": "good", "seen": "-1"}, {"newer": "good", "seen": "x"},
     {"newer": "good", "type": "contact_exploded"}],
)  # fmt: skip
def test_bad_live_checks_answer_400_before_any_upstream_call(
    staff_client: Client, no_upstream: list[str], query: dict[str, str]
) -> None:
    query = {
        k: _tampered_newer() if v == "tampered" else _newer_token() if v == "good" else v for k, v in query.items()
    }
    response = staff_client.get(reverse("contact_live", args=[ORG, "ct_ada"]), query)
    assert response.status_code == 400
    assert no_upstream == []


def test_the_live_check_needs_access_like_the_page(
    client: Client, staff_client: Client, no_upstream: list[str]
) -> None:
    url = reverse("contact_live", args=["not-granted", "ct_ada"])
    assert staff_client.get(url, {"newer": _newer_token()}).status_code == 404
    assert client.get(reverse("contact_live", args=[ORG, "ct_ada"]), {"newer": _newer_token()}).status_code == 302
    assert no_upstream == []


def test_an_id_invent_writes_with_other_characters_gets_a_link_to_its_time_only() -> None:
    from timeline_site.invent.types import Activity
    from timeline_site.timeline.place_links import permalinks
    from timeline_site.timeline.query import TimelineQuery

    link = permalinks(TimelineQuery(ORG, "ct_ada", ["note_created"], None))
    when = datetime(2026, 3, 14, 10, 22, 33, 120, tzinfo=UTC)
    odd = link(Activity(id='a b/"<x>', type="note_created", created_at=when))
    assert odd == f"{ADA}?type=note_created&at=2026-03-14T10:22:33.000120Z#place"
    plain = link(Activity(id="act_1", type="note_created", created_at=when))
    assert plain == f"{ADA}?type=note_created&entry=act_1&at=2026-03-14T10:22:33.000120Z#place"


def test_without_javascript_a_located_page_carries_its_spans_inline(staff_client: Client) -> None:
    rows = upstream("ct_heavy")
    page = staff_client.get(permalink(rows[400]) + "&inline=1").content.decode()
    assert article_ids(page)[0] == rows[400].activity_id
    assert "spans-loader" not in page and 'data-span="' in page  # how long each state lasted, already there
    assert 'http-equiv="refresh"' not in page


@pytest.mark.parametrize(
    "query",
    [
        {"at_time": "9999-12-31"},
        {"at_time": "0001-01-01"},
        {"at": "0001-01-01T00:00:00+14:00"},
        {"at": "9999-12-31T23:59:59.999999-12:00"},
        {"entry": "act_x", "at": "9999-12-31T23:59:59Z"},
    ],
)
def test_the_ends_of_time_open_a_page_not_an_error(staff_client: Client, query: dict[str, str]) -> None:
    response = staff_client.get(ADA, query)
    assert response.status_code == 200


def test_every_card_of_the_hostile_contact_links_to_a_page_that_opens(staff_client: Client) -> None:
    page = staff_client.get(reverse("contact_timeline", args=[ORG, "ct_hostile"])).content.decode()
    links = [html.unescape(h) for h in re.findall(r'<a class="permalink" href="([^"]+)" data-permalink>', page)]
    assert links
    for link in links:
        assert staff_client.get(link).status_code == 200, link
