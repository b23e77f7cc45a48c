"""The contact header on the timeline, against the embedded demo: name, channels with copy buttons,
the current block and subscription state with their start, and segments."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from timeline_site.demo_invent.models import Behaviour, DemoActivity, DemoContact
from timeline_site.invent.client import InventClient
from timeline_site.invent.errors import InventUnavailable
from timeline_site.invent.parse import parse_contact
from timeline_site.timeline.contact_display import channel_lines

ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])


def header_of(html: str) -> str:
    found = re.search(r'<header class="contact-header">.*?</header>\n', html, flags=re.S)
    assert found, "no contact header"
    return found.group(0)


def latest(contact: DemoContact, activity_type: str) -> DemoActivity:
    row = contact.activities.filter(type=activity_type).order_by("-created_at", "-activity_id").first()
    assert row is not None, (contact.contact_id, activity_type)
    return row


STATE = re.compile(r'<div id="contact-state" class="contact-state"[^>]*>.*?\n  </div>', flags=re.S)


def spans_response(client: Client, html: str) -> str:
    """What the page's hidden spans loader asks for once it is on screen (htmx)."""
    loader = re.search(r'<div class="spans-loader" data-hx-get="([^"]+)"', html)
    assert loader, "no spans loader on the page"
    response = client.get(loader.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Reswap"] == "none"
    return response.content.decode()


def page_with_history(client: Client, url: str, *, javascript: bool) -> tuple[str, str]:
    """(the page, its header) once the activity history's part of the header is in: with JavaScript the
    first response's state block replaced by the one the spans request swaps in out of band, without it
    the page asked again with inline=1 (as its <noscript> refresh does)."""
    if not javascript:
        html = client.get(url, {"inline": "1"}).content.decode()
        assert "spans-loader" not in html and "Working out since when" not in html
        return html, header_of(html)
    html = client.get(url).content.decode()
    header = header_of(html)
    assert "Working out since when and by whom" in header  # the first response says more is coming
    swapped = STATE.search(spans_response(client, html))
    assert swapped, "no header state in the spans response"
    state = swapped.group(0).replace(' data-hx-swap-oob="true"', "", 1)
    assert "Working out since when" not in state
    return html, STATE.sub(lambda _: state, header, count=1)


def since_of(header: str, status: str) -> datetime:
    found = re.search(rf'data-status="{status}" data-since="([^"]+)"', header)
    assert found, f"no {status} line with a start in the header"
    return datetime.fromisoformat(found.group(1))


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_header_shows_name_channels_with_copy_buttons_and_segments(staff_client: Client, javascript: bool) -> None:
    first = header_of(staff_client.get(ADA).content.decode())
    _html, header = page_with_history(staff_client, ADA, javascript=javascript)
    # The first response shows what the contact record says: no segment's start yet.
    assert "<h1><bdi>Ada Lovelace</bdi></h1>" in first and "badge-ok" in first and "<time " not in first
    assert re.findall(r'<li data-segment-id="([^"]+)">', first) == re.findall(r'<li data-segment-id="([^"]+)">', header)
    assert "<h1><bdi>Ada Lovelace</bdi></h1>" in header
    copies = re.findall(r'<button type="button" class="copy" data-copy="([^"]+)"><span class="copy-label">Copy', header)
    assert "ada@analytical.example" in copies and "+447700900018" in copies
    ada_record = parse_contact(
        {**DemoContact.objects.get(org_id="northwind", contact_id="ct_ada").data, "id": "ct_ada"}
    )
    platforms = [line.platform for line in channel_lines(ada_record)]
    assert len(platforms) >= 3 and "WhatsApp" in platforms
    for platform in platforms:  # every channel, by the name staff know it by
        assert f'<span class="channel-platform">{platform}</span>' in header
    ada = DemoContact.objects.get(org_id="northwind", contact_id="ct_ada")
    for segment in ada.data["segments"]:
        added = latest_segment_add(ada, segment["id"])
        assert f'<li data-segment-id="{segment["id"]}">' in header
        assert f'<time datetime="{added.created_at.isoformat()}"' in header  # "since" its latest add
    assert 'data-status="blocked"' not in header and "badge-ok" in header  # Ada is neither blocked nor unsubscribed


def latest_segment_add(contact: DemoContact, segment_id: str) -> DemoActivity:
    rows = contact.activities.filter(type="segment_added").order_by("-created_at", "-activity_id")
    return next(r for r in rows if (r.data.get("segment") or {}).get("id") == segment_id)


@pytest.mark.parametrize("flag", ["blocked", "unsubscribed"])
def test_every_demo_contact_in_that_state_shows_since_its_latest_event(staff_client: Client, flag: str) -> None:
    opener = "contact_blocked" if flag == "blocked" else "contact_unsubscribed"
    contacts = [c for c in DemoContact.objects.all() if c.data.get(flag) and c.behaviour == Behaviour.NORMAL]
    assert len(contacts) >= 2
    for contact in contacts:
        header = header_of(
            staff_client.get(reverse("contact_timeline", args=[contact.org_id, contact.contact_id])).content.decode()
        )
        assert f'<span class="badge badge-{flag}">' in header
        assert since_of(header, flag) == latest(contact, opener).created_at


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_unsubscribed_shows_reason_feedback_and_broadcast(staff_client: Client, javascript: bool) -> None:
    contact = next(
        c for c in DemoContact.objects.filter(org_id="northwind")
        if c.data.get("unsubscribed") and c.data.get("unsubscribe_feedback") and c.behaviour == Behaviour.NORMAL
        and (latest(c, "contact_unsubscribed").data.get("broadcast"))
    )  # fmt: skip
    url = reverse("contact_timeline", args=["northwind", contact.contact_id])
    _html, header = page_with_history(staff_client, url, javascript=javascript)
    line = re.search(r'<li class="status-line-unsubscribed".*?</li>', header, flags=re.S).group(0)  # type: ignore[union-attr]
    assert "Reason: <bdi>" in line
    assert f"Feedback: “<bdi>{html_lib.escape(contact.data['unsubscribe_feedback'])}</bdi>”" in line
    event = latest(contact, "contact_unsubscribed")
    assert f"From broadcast <strong><bdi>{html_lib.escape(event.data['broadcast']['name'])}</bdi>" in line


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_the_latest_block_card_says_still_blocked_when_the_header_says_blocked(
    staff_client: Client, javascript: bool
) -> None:
    contact = next(
        c
        for c in DemoContact.objects.filter(org_id="northwind")
        if c.data.get("blocked") and c.behaviour == Behaviour.NORMAL
    )
    url = reverse("contact_timeline", args=["northwind", contact.contact_id])
    html = staff_client.get(url if javascript else url + "?inline=1").content.decode()
    assert '<span class="badge badge-blocked">' in header_of(html)  # the record says so at once
    event = latest(contact, "contact_blocked")
    article = re.search(rf'<article [^>]*data-activity-id="{event.activity_id}".*?</article>', html, flags=re.S)
    assert article, "the latest block is on the first page"
    line = re.search(r'<p id="span-(\d+)" class="span-note[^"]*"[^>]*>[^<]*</p>', article.group(0))
    assert line
    if javascript:
        assert line.group(0) == f'<p id="span-{line.group(1)}" class="span-note span-empty"></p>'  # reserved
        still = spans_response(staff_client, html)
    else:
        still = article.group(0)
    assert re.search(
        rf'<p id="span-{line.group(1)}" class="span-note span-still" data-span="still"'
        rf'(?: data-hx-swap-oob="true")?>Still blocked</p>',
        still,
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_without_a_contact_record_the_header_shows_the_id_and_the_state_from_history(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, javascript: bool
) -> None:
    def unavailable(self: InventClient, **kwargs: Any) -> None:
        raise InventUnavailable("down")

    monkeypatch.setattr(InventClient, "get_contact", unavailable)
    contact = next(
        c for c in DemoContact.objects.filter(org_id="northwind")
        if c.data.get("blocked") and c.data.get("unsubscribed") and c.behaviour == Behaviour.NORMAL
    )  # fmt: skip
    url = reverse("contact_timeline", args=["northwind", contact.contact_id])
    response = staff_client.get(url)
    assert response.status_code == 200
    first = header_of(response.content.decode())
    assert f"<h1><bdi>{contact.contact_id}</bdi></h1>" in first and "data-status=" not in first  # not known yet
    html, header = page_with_history(staff_client, url, javascript=javascript)
    assert f"<h1><bdi>{contact.contact_id}</bdi></h1>" in header
    assert "read from its activity history" in header
    assert since_of(header, "blocked") == latest(contact, "contact_blocked").created_at
    assert since_of(header, "unsubscribed") == latest(contact, "contact_unsubscribed").created_at
    assert 'class="copy"' not in header  # no channels without a record
    assert html.count("<article ") > 0  # the timeline itself is all there


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_without_a_contact_or_history_the_header_degrades_to_the_id(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, javascript: bool
) -> None:
    monkeypatch.setattr(InventClient, "get_contact", lambda self, **kwargs: None)
    url = reverse("contact_timeline", args=["northwind", "ct_empty"])
    if javascript:
        assert "data-contact-status" not in header_of(staff_client.get(url).content.decode())  # not known yet
    _html, header = page_with_history(staff_client, url, javascript=javascript)
    assert "<h1><bdi>ct_empty</bdi></h1>" in header and "did not return this contact" in header
    assert "data-contact-status" in header  # no events at all: known to be neither blocked nor unsubscribed


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_hostile_contact_data_stays_text_in_the_header(staff_client: Client, javascript: bool) -> None:
    url = reverse("contact_timeline", args=["northwind", "ct_hostile"])
    first = header_of(staff_client.get(url).content.decode())
    assert "<script" not in first and "<img src=x" not in first and "<b " not in first
    _html, header = page_with_history(staff_client, url, javascript=javascript)
    assert "<script" not in header and "<img src=x" not in header and "<b " not in header
    assert "&lt;script&gt;alert(&#x27;broadcast&#x27;)&lt;/script&gt;" in header
    assert 'data-copy="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@evil.example"' in header
