"""Phone-first reading (issue 13) without a browser: the zone named once, the clock on every card, rows for
state changes, channel labels a newcomer reads, a stale copy that says why and how old it is, and a full
page that streams its frame when Invent is slow."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from timeline_site.invent import timeline as timeline_service
from timeline_site.invent.cache import _key
from timeline_site.invent.errors import InventNotFound, InventUnavailable
from timeline_site.invent.kinds import KINDS, SPAN_TYPES, kind_of
from timeline_site.invent.parse import parse_activity
from timeline_site.invent.timeline import TimelinePage
from timeline_site.invent.types import Channel, Contact
from timeline_site.timeline.contact_display import channel_lines, platform_label, primary_channel
from timeline_site.timeline.display import build_entries, zone_label

ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


# --- Pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "at", "expected"),
    [
        ("America/New_York", NOW, "New York (EST)"),
        ("America/New_York", datetime(2026, 7, 1, tzinfo=UTC), "New York (EDT)"),
        ("America/Argentina/Buenos_Aires", NOW, "Buenos Aires (UTC-03)"),
        ("Europe/Lisbon", NOW, "Lisbon (WET)"),
        ("Asia/Kolkata", NOW, "Kolkata (IST)"),
        ("UTC", NOW, "UTC"),
    ],
)
def test_the_zone_is_named_by_its_city_and_its_abbreviation_now(zone: str, at: datetime, expected: str) -> None:
    assert zone_label(ZoneInfo(zone), at) == expected


def test_every_card_has_its_clock_time_in_the_viewers_zone() -> None:
    item = {"id": "a1", "type": "note_created", "created_at": "2026-12-01T13:45:09Z"}
    (entry,) = build_entries([parse_activity(item)], offset=0, tz=ZoneInfo("America/New_York"), now=NOW,
                             previous=None)  # fmt: skip
    assert entry.clock == "08:45" and entry.exact.endswith("EST") and entry.relative == "1 h ago"


def test_state_changes_are_rows_and_content_keeps_cards() -> None:
    rows = {kind.value for kind in KINDS.values() if kind.layout == "row"}
    assert rows == set(SPAN_TYPES)  # blocks, unblocks, unsubscribes, resubscribes, segment changes
    assert kind_of("note_created").layout == kind_of("file_uploaded").layout == "card"
    assert kind_of("contact_merged").layout == "card"  # an unknown kind shows its metadata: a card


@pytest.mark.parametrize(
    ("channel_type", "address", "expected"),
    [
        ("gmail", "ada@analytical.example", "E-mail"),  # the org's mailbox is Gmail, the contact's is not
        ("gmail", "someone@gmail.com", "Gmail"),
        ("gmail", "Someone@GoogleMail.com", "Gmail"),
        ("twilio", "", "SMS"),
        ("telnyx", "", "SMS"),
        ("whatsapp_bot", "", "WhatsApp"),
        ("carrier_pigeon", "", "Carrier pigeon"),
    ],
)
def test_channels_are_named_from_their_type_and_address(channel_type: str, address: str, expected: str) -> None:
    assert platform_label(channel_type, address) == expected


def channel(channel_type: str, **values: str) -> Channel:
    return Channel(id=f"ch_{channel_type}", type=channel_type, user_id=values.pop("user_id", "u"), **values)


def test_one_primary_channel_an_email_first_then_a_phone() -> None:
    whatsapp = channel("whatsapp_bot", phone="+447700900018", username="ada.l")
    mail = channel("gmail", email="ada@analytical.example")
    primary = primary_channel(channel_lines(Contact(id="c", channels=(whatsapp, mail))))
    assert primary is not None and (primary.platform, primary.value.value) == ("E-mail", "ada@analytical.example")
    primary = primary_channel(channel_lines(Contact(id="c", channels=(whatsapp,))))
    assert primary is not None and (primary.platform, primary.value.label) == ("WhatsApp", "Phone")
    assert primary_channel(()) is None


# --- The page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_names_the_zone_once_and_each_card_its_clock_time(staff_client: Client) -> None:
    staff_client.cookies["tz"] = "America/New_York"
    html = staff_client.get(ADA).content.decode()
    assert html.count("Times in New York (E") == 1
    clocks = re.findall(r'<time datetime="[^"]+" data-exact="[^"]+" data-relative="[^"]+" '
                        r'tabindex="0">(\d\d:\d\d)<', html)  # fmt: skip
    assert len(clocks) == html.count("<article ")


@pytest.mark.django_db
def test_the_header_keeps_one_channel_in_sight_and_the_rest_under_details(staff_client: Client) -> None:
    html = staff_client.get(ADA).content.decode()
    header = html.split('<div id="toolbar"', 1)[0]
    before_details, details = header.split('<details id="contact-details"', 1)
    assert '<p class="contact-reach"><span class="channel-platform">E-mail</span>' in before_details
    assert "+447700900018" not in before_details and "Org <code>" not in before_details  # ids: in Details
    assert "Org <code>northwind</code>" in details and 'data-segment-id="' in details
    # Every value says what it is: WhatsApp's number and its user name.
    assert '<span class="value-label">User name: </span><bdi>ada.l</bdi>' in details
    assert '<span class="value-label">Phone: </span><bdi>+447700900018</bdi>' in details


@pytest.mark.django_db
def test_details_are_rendered_open_for_whoever_opened_them_before(staff_client: Client) -> None:
    assert '<details id="contact-details" class="contact-details">' in staff_client.get(ADA).content.decode()
    staff_client.cookies["contact_details"] = "open"
    assert '<details id="contact-details" class="contact-details" open>' in staff_client.get(ADA).content.decode()


@pytest.mark.django_db
def test_chosen_filters_are_counted_on_the_button_and_named_in_words(staff_client: Client) -> None:
    html = staff_client.get(ADA, {"type": ["note_created", "contact_blocked"]}).content.decode()
    assert re.search(r'Filter<span id="filter-count"> \(2\)', html)
    showing = re.search(r'<p id="filters-showing" class="showing"[^>]*>(.*?)</p>', html, flags=re.S)
    assert showing and "hidden" not in showing.group(0).split(">", 1)[0]
    assert "Showing: Notes, Blocked" in showing.group(1) and "Clear" in showing.group(1)
    plain = staff_client.get(ADA).content.decode()
    assert re.search(r'<p id="filters-showing" class="showing" role="status" hidden></p>', plain)
    # A change of chips (htmx) brings the bar's count and words out of band.
    fragment = staff_client.get(ADA, {"type": "note_created"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline")
    text = fragment.content.decode()
    assert text.lstrip().startswith('<section id="timeline"')
    assert '<span id="filter-count" data-hx-swap-oob="true"> (1)' in text and "Showing: Notes" in text


@pytest.mark.django_db
def test_after_a_429_the_copy_says_invent_is_busy_and_how_old_it_is(staff_client: Client) -> None:
    staff_client.get(ADA)  # fresh copies of the page's upstream reads
    stale_key = _key("act", "northwind", "ct_ada", "all", 1, 50) + ":stale"
    fetched_at, stored = cache.get(stale_key)
    cache.clear()  # every fresh copy has expired; an older stale one is left
    cache.set(stale_key, (fetched_at - 240, stored))
    call_command("demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_ada", "rate_limited", verbosity=0)
    html = staff_client.get(ADA).content.decode()
    notice = re.search(r'<p class="notice notice-stale" role="status" data-stale="(\w+)">([^<]+)</p>', html)
    assert notice and notice.group(1) == "busy"
    assert notice.group(2).startswith("Invent is busy, so this comes from a copy made 4\xa0minutes ago")
    assert html.index("notice-stale") < html.index('id="timeline-feed"')  # above the cards


@pytest.mark.django_db
def test_a_copy_kept_after_invent_failed_says_it_is_not_answering(staff_client: Client) -> None:
    staff_client.get(ADA)
    stale_key = _key("act", "northwind", "ct_ada", "all", 1, 50) + ":stale"
    stale = cache.get(stale_key)
    cache.clear()
    cache.set(stale_key, stale)
    call_command("demo_invent_set_behaviour", "--org", "northwind", "--contact", "ct_ada", "down", verbosity=0)
    html = staff_client.get(ADA).content.decode()
    assert 'data-stale="down">Invent is not answering, so this comes from a copy made 0\xa0minutes ago' in html


@pytest.mark.django_db
def test_the_rate_limited_page_names_the_contact_and_asks_again_by_itself(staff_client: Client) -> None:
    response = staff_client.get(reverse("contact_timeline", args=["northwind", "ct_ratelimited"]))
    html = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert '<meta http-equiv="refresh" content="30">' in html and "/static/js/retry" in html
    assert "Contact: <strong><bdi>ct_ratelimited</bdi></strong>" in html  # no reading yet: its id
    assert 'data-retry-in="30"' in html and "Trying again by itself in <span data-seconds>30</span> s." in html


# --- A slow Invent: the frame first, the cards in the same response -------------------------------


def empty_page() -> TimelinePage:
    return TimelinePage(activities=(), next_cursor=None, total=0, offset=0)


@pytest.fixture
def slow_invent(monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    """The first round takes `seconds` off the request's thread (as with INVENT_PARALLEL_FETCH), then
    answers `answer` (or raises it); the pool thread never touches the test's database."""
    settings.INVENT_PARALLEL_FETCH = True
    settings.TIMELINE_STREAM_AFTER_MS = 100
    plan: dict[str, Any] = {"seconds": 0.5, "answer": (empty_page(), None), "threads": []}

    def first_view(**_kwargs: Any) -> Any:
        plan["threads"].append(threading.current_thread().name)
        time.sleep(plan["seconds"])
        if isinstance(plan["answer"], Exception):
            raise plan["answer"]
        return plan["answer"]

    monkeypatch.setattr(timeline_service, "first_view", first_view)
    return plan


def streamed_parts(response: Any) -> list[str]:
    assert isinstance(response, StreamingHttpResponse)
    return [part.decode() for part in response.streaming_content]


@pytest.mark.django_db
def test_a_slow_invent_gets_the_frame_first_and_the_page_in_the_same_response(
    staff_client: Client, slow_invent: dict[str, Any]
) -> None:
    started = time.monotonic()
    response = staff_client.get(ADA)
    assert response.status_code == 200 and time.monotonic() - started < slow_invent["seconds"]
    frame, body = streamed_parts(response)
    assert slow_invent["threads"] and slow_invent["threads"][0].startswith("invent-first-view")
    assert 'class="stream-frame"' in frame and "Invent is slow to answer" in frame and "</html>" not in frame
    assert "<h1><bdi>ct_ada</bdi></h1>" in frame  # nobody read it before: the frame knows its id only
    assert '<header class="contact-header">' in body and 'data-empty="none"' in body
    assert body.rstrip().endswith("</html>") and "stream-frame" not in body


@pytest.mark.django_db
def test_the_frame_names_the_contact_from_an_earlier_reading(
    staff_client: Client, slow_invent: dict[str, Any], settings: Any
) -> None:
    settings.TIMELINE_STREAM_AFTER_MS = 0  # an ordinary first reading records the name
    slow_invent["answer"] = (empty_page(), Contact(id="ct_ada", name="Ada Lovelace", channels=()))
    staff_client.get(ADA)
    settings.TIMELINE_STREAM_AFTER_MS = 100
    frame, _body = streamed_parts(staff_client.get(ADA))
    assert "<h1><bdi>Ada Lovelace</bdi></h1>" in frame and "<title>Ada Lovelace · Contact timeline</title>" in frame


@pytest.mark.django_db
def test_a_failure_after_the_frame_is_said_in_the_page(staff_client: Client, slow_invent: dict[str, Any]) -> None:
    slow_invent["answer"] = InventUnavailable("Invent did not answer in time.")
    response = staff_client.get(ADA)
    assert response.status_code == 200  # sent before the failure was known
    _frame, body = streamed_parts(response)
    assert '<div class="problem" role="alert" data-problem="502">' in body and "Invent is not answering" in body


@pytest.mark.django_db
def test_an_answer_in_time_is_a_whole_page_with_its_real_status(
    staff_client: Client, slow_invent: dict[str, Any]
) -> None:
    slow_invent["seconds"] = 0
    slow_invent["answer"] = InventNotFound("No such contact.")
    response = staff_client.get(ADA)
    assert not response.streaming and response.status_code == 404
    slow_invent["answer"] = (empty_page(), None)
    response = staff_client.get(ADA)
    assert not response.streaming and response.status_code == 200 and b"stream-frame" not in response.content


@pytest.mark.django_db
def test_without_parallel_reads_the_page_never_streams(staff_client: Client, slow_invent: dict[str, Any],
                                                       settings: Any) -> None:  # fmt: skip
    settings.INVENT_PARALLEL_FETCH = False
    slow_invent["seconds"] = 0.3
    response = staff_client.get(ADA)
    assert not response.streaming and response.status_code == 200
    assert slow_invent["threads"] == [threading.current_thread().name]


def test_the_stale_copy_keeps_its_fetch_time_for_the_page(settings: Any) -> None:
    from timeline_site.invent.cache import StaleCopy, cached_upstream
    from timeline_site.invent.errors import InventRateLimited

    seen: list[StaleCopy] = []
    before = datetime.now(UTC)
    assert cached_upstream(key="k", fetch=lambda: "v", on_stale=seen.append) == ("v", False)
    cache.delete("k")

    def busy() -> str:
        raise InventRateLimited(30)

    assert cached_upstream(key="k", fetch=busy, on_stale=seen.append) == ("v", True)
    assert len(seen) == 1 and seen[0].busy and before - timedelta(seconds=1) <= seen[0].fetched_at <= datetime.now(UTC)
