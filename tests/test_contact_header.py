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

ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])


def header_of(html: str) -> str:
    found = re.search(r'<header class="contact-header">.*?</header>\n', html, flags=re.S)
    assert found, "no contact header"
    return found.group(0)


def latest(contact: DemoContact, activity_type: str) -> DemoActivity:
    row = contact.activities.filter(type=activity_type).order_by("-created_at", "-activity_id").first()
    assert row is not None, (contact.contact_id, activity_type)
    return row


def since_of(header: str, status: str) -> datetime:
    found = re.search(rf'data-status="{status}" data-since="([^"]+)"', header)
    assert found, f"no {status} line with a start in the header"
    return datetime.fromisoformat(found.group(1))


def test_header_shows_name_channels_with_copy_buttons_and_segments(staff_client: Client) -> None:
    header = header_of(staff_client.get(ADA).content.decode())
    assert "<h1><bdi>Ada Lovelace</bdi></h1>" in header
    copies = re.findall(r'<button type="button" class="copy" data-copy="([^"]+)"><span class="copy-label">Copy', header)
    assert "ada@analytical.example" in copies and "+447700900018" in copies
    assert "Gmail" in header and "WhatsApp" in header and "SMS (Twilio)" in header
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


def test_unsubscribed_shows_reason_feedback_and_broadcast(staff_client: Client) -> None:
    contact = next(
        c for c in DemoContact.objects.filter(org_id="northwind")
        if c.data.get("unsubscribed") and c.data.get("unsubscribe_feedback") and c.behaviour == Behaviour.NORMAL
    )  # fmt: skip
    header = header_of(
        staff_client.get(reverse("contact_timeline", args=["northwind", contact.contact_id])).content.decode()
    )
    line = re.search(r'<li class="status-line-unsubscribed".*?</li>', header, flags=re.S).group(0)  # type: ignore[union-attr]
    assert "Reason: <bdi>" in line
    assert f"Feedback: “<bdi>{html_lib.escape(contact.data['unsubscribe_feedback'])}</bdi>”" in line
    event = latest(contact, "contact_unsubscribed")
    if event.data.get("broadcast"):
        assert html_lib.escape(event.data["broadcast"]["name"]) in line


def test_the_latest_block_card_says_still_blocked_when_the_header_says_blocked(staff_client: Client) -> None:
    contact = next(
        c
        for c in DemoContact.objects.filter(org_id="northwind")
        if c.data.get("blocked") and c.behaviour == Behaviour.NORMAL
    )
    html = staff_client.get(reverse("contact_timeline", args=["northwind", contact.contact_id])).content.decode()
    event = latest(contact, "contact_blocked")
    article = re.search(rf'<article [^>]*data-activity-id="{event.activity_id}".*?</article>', html, flags=re.S)
    assert article, "the latest block is on the first page"
    assert re.search(
        r'<p id="span-\d+" class="span-note span-still" data-span="still">Still blocked</p>', article.group(0)
    )


def test_without_a_contact_record_the_header_shows_the_id_and_the_state_from_history(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(self: InventClient, **kwargs: Any) -> None:
        raise InventUnavailable("down")

    monkeypatch.setattr(InventClient, "get_contact", unavailable)
    contact = next(
        c for c in DemoContact.objects.filter(org_id="northwind")
        if c.data.get("blocked") and c.data.get("unsubscribed") and c.behaviour == Behaviour.NORMAL
    )  # fmt: skip
    response = staff_client.get(reverse("contact_timeline", args=["northwind", contact.contact_id]))
    assert response.status_code == 200
    html = response.content.decode()
    header = header_of(html)
    assert f"<h1><bdi>{contact.contact_id}</bdi></h1>" in header
    assert "read from its activity history" in header
    assert since_of(header, "blocked") == latest(contact, "contact_blocked").created_at
    assert since_of(header, "unsubscribed") == latest(contact, "contact_unsubscribed").created_at
    assert 'class="copy"' not in header  # no channels without a record
    assert html.count("<article ") > 0  # the timeline itself is all there


def test_without_a_contact_or_history_the_header_degrades_to_the_id(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(InventClient, "get_contact", lambda self, **kwargs: None)
    html = staff_client.get(reverse("contact_timeline", args=["northwind", "ct_empty"])).content.decode()
    header = header_of(html)
    assert "<h1><bdi>ct_empty</bdi></h1>" in header and "did not return this contact" in header
    assert "data-contact-status" in header  # no events at all: known to be neither blocked nor unsubscribed


def test_hostile_contact_data_stays_text_in_the_header(staff_client: Client) -> None:
    header = header_of(staff_client.get(reverse("contact_timeline", args=["northwind", "ct_hostile"])).content.decode())
    assert "<script" not in header and "<img src=x" not in header and "<b " not in header
    assert "&lt;script&gt;alert(&#x27;broadcast&#x27;)&lt;/script&gt;" in header
    assert 'data-copy="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@evil.example"' in header
