"""The cards' markup, built in Python: every kind of event, and every value from Invent kept as text."""

from __future__ import annotations

import html.parser
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from timeline_site.invent.parse import parse_activity
from timeline_site.invent.spans import ActivitySpan, SpanState
from timeline_site.invent.types import Segment
from timeline_site.timeline.cards import articles, segment_chip, span_notes
from timeline_site.timeline.display import build_entries

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EVIL = "\"><script>alert(1)</script><img src=x onerror=alert(2) title='&amp;"
ALLOWED_TAGS = {
    "article", "div", "header", "span", "h2", "h3", "time", "img", "svg", "path", "bdi", "p", "a", "ul", "li",
    "details", "summary", "br", "strong", "dl", "dt", "dd",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "class", "id", "data-activity-id", "data-activity-type", "aria-posinset", "aria-setsize", "aria-labelledby",
    "tabindex", "aria-hidden", "viewbox", "width", "height", "focusable", "fill", "d", "src", "alt", "loading",
    "decoding", "referrerpolicy", "datetime", "title", "data-exact", "href", "rel", "target", "aria-label",
    "data-span", "hidden", "data-hx-swap-oob",
}  # fmt: skip


class Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(markup: str) -> Tags:
    tags = Tags()
    tags.feed(markup)
    tags.close()
    return tags


def raw(kind: str, n: int = 1, **fields: Any) -> dict[str, Any]:
    return {"id": f"a{n}", "type": kind, "created_at": (NOW - timedelta(hours=n)).isoformat(), **fields}


def render(*items: dict[str, Any], spans: dict[str, ActivitySpan] | None = None, total: int | None = 9) -> str:
    activities = [parse_activity(item) for item in items]
    entries = build_entries(activities, offset=0, tz=ZoneInfo("Europe/Paris"), now=NOW, previous=None, spans=spans)
    return str(articles(entries, total=total))


def everything_evil(kind: str) -> dict[str, Any]:
    """One activity with the hostile string in every text field Invent may send."""
    user = {"id": EVIL, "name": EVIL, "email": EVIL, "avatar": "https://cdn.example.com/" + EVIL}
    file = {"id": EVIL, "file_filename": EVIL, "file_size": 10, "file_mimetype": "image/png",
            "file_url": "https://files.example.com/" + EVIL}  # fmt: skip
    return raw(
        kind,
        id=EVIL,
        actor=user,
        segment={"id": EVIL, "name": EVIL, "color": EVIL, "boards": [{"board_id": EVIL, "board_name": EVIL}]},
        broadcast={"id": EVIL, "name": EVIL},
        note={"id": EVIL, "content": EVIL + "\nhttps://example.com/" + EVIL, "attachments": [file], "user": user},
        file=file,
        metadata={"reason": EVIL, "feedback": EVIL, EVIL: EVIL},
    )


@pytest.mark.parametrize(
    "kind",
    ["note_created", "file_uploaded", "segment_added", "segment_removed", "contact_blocked",
     "contact_unsubscribed", "contact_resubscribed", EVIL],
)  # fmt: skip
def test_hostile_values_in_every_field_stay_text(kind: str) -> None:
    markup = render(everything_evil(kind))
    tags = parsed(markup)
    assert {tag for tag, _ in tags.tags} <= ALLOWED_TAGS
    assert {name for _, attrs in tags.tags for name in attrs} <= ALLOWED_ATTRIBUTES
    assert "<script" not in markup and "<img src=x" not in markup
    assert EVIL in "".join(tags.text) or any(EVIL in (v or "") for _, attrs in tags.tags for v in attrs.values())
    for _, attrs in tags.tags:
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                assert str(attrs[name]).startswith("https://"), attrs


def test_a_note_with_attachments_long_text_and_links() -> None:
    long_text = "First line https://example.com/ticket/1.\n" + "word " * 400
    markup = render(
        raw("note_created", note={"id": "n1", "content": long_text, "attachments": [
            {"id": "f1", "file_filename": "invoice.pdf", "file_size": 2048, "file_mimetype": "application/pdf",
             "file_url": "https://files.example.com/invoice.pdf"},
            {"id": "f2", "file_filename": "photo.png", "file_size": None, "file_mimetype": "image/png",
             "file_url": "https://files.example.com/photo.png"},
        ]}, actor={"id": "u1", "name": "Grace Hopper"}),
    )  # fmt: skip
    tags = parsed(markup)
    classes = [attrs.get("class") for _, attrs in tags.tags]
    assert "note-text note-preview" in classes and "note-more" in classes  # preview, then the whole note
    assert "file file-pdf" in classes and "file file-image" in classes
    links = [attrs for tag, attrs in tags.tags if tag == "a" and attrs.get("rel") == "noopener noreferrer nofollow"]
    assert [link["href"] for link in links] == ["https://example.com/ticket/1"] * 2  # preview and whole note
    text = " ".join(tags.text)
    assert "invoice.pdf" in text and "2.0 KB · application/pdf" in text and "size unknown · image/png" in text
    assert "Grace Hopper" in text and "GH" in text


def test_a_note_without_content_or_details_says_so() -> None:
    assert "(This note has no text.)" in render(raw("note_created", note={"id": "n", "content": ""}))
    assert "(Invent sent this note without its content.)" in render(raw("note_created"))


def test_file_without_a_link_says_so() -> None:
    zipped = {"id": "f", "file_filename": "a.zip", "file_mimetype": "application/zip"}
    markup = render(raw("file_uploaded", file=zipped))
    assert "file file-archive" in markup and "No link" in markup and "<a " not in markup
    assert "without the file's details" in render(raw("file_uploaded"))


def test_segment_cards_show_the_chip_boards_and_direction() -> None:
    segment = {"id": "s1", "name": "VIP", "color": "amber", "boards": [{"board_id": "b", "board_name": "Sales"}]}
    added, removed = render(raw("segment_added", segment=segment)), render(raw("segment_removed", segment=segment))
    assert "Added to segment" in added and "icon-plus" in added and "seg-amber" in added
    assert "Boards: <bdi>Sales</bdi>" in added
    assert "Removed from segment" in removed and "icon-minus" in removed
    assert "(Invent did not say which segment.)" in render(raw("segment_added"))


def test_status_cards_show_who_why_and_which_broadcast() -> None:
    markup = render(
        raw("contact_unsubscribed", broadcast={"id": "b1", "name": "November news"},
            metadata={"reason": "too many e-mails", "feedback": "weekly please"}),
    )  # fmt: skip
    text = " ".join(parsed(markup).text)
    assert "Unsubscribed" in text and "November news" in text and "too many e-mails" in text and "weekly please" in text
    assert "System" in text  # no actor, no assistant: the system did it
    assert 'class="status-detail"' not in render(raw("contact_blocked"))  # nothing to add, no empty line


def test_an_assistant_is_named_and_badged() -> None:
    markup = render(raw("contact_blocked", assistant={"id": "as", "name": "Triage bot"}))
    assert "performer-assistant" in markup and "AI assistant" in markup and "Triage bot" in markup


def test_unknown_types_get_the_generic_card_with_their_metadata() -> None:
    markup = render(raw("contact_merged", metadata={"into": "ct_9", "count": 2}))
    assert "activity-unknown" in markup and "<bdi>contact_merged</bdi>" in markup
    assert "<dt><bdi>count</bdi></dt><dd><bdi>2</bdi></dd>" in markup
    assert "does not know yet" in render(raw("x" * 300))
    assert "x" * 65 not in render(raw("x" * 300))  # a long type name is cut short


def test_feed_positions_and_set_size() -> None:
    markup = render(raw("note_created", 1), raw("note_created", 2), total=None)
    tags = [attrs for tag, attrs in parsed(markup).tags if tag == "article"]
    assert [a["aria-posinset"] for a in tags] == ["1", "2"] and {a["aria-setsize"] for a in tags} == {"-1"}
    assert [a["aria-labelledby"] for a in tags] == ["t-1", "t-2"]
    assert 'id="t-1"' in markup and 'id="t-2"' in markup


def test_span_notes_inline_pending_and_out_of_band() -> None:
    blocked = raw("contact_blocked", 1)
    span = ActivitySpan(SpanState.BLOCKED, opens=False, start=NOW - timedelta(days=4), end=NOW - timedelta(hours=1))
    assert 'data-span="lasted">Blocked for 3 days</p>' in render(blocked, spans={"a1": span})
    assert '<p id="span-1" class="span-note" hidden></p>' in render(blocked, spans=None)  # they follow
    entries = build_entries([parse_activity(blocked)], offset=0, tz=UTC, now=NOW, previous=None, spans={"a1": span})
    assert 'data-hx-swap-oob="true"' in str(span_notes(entries))
    assert str(span_notes([replace(entries[0], span=None, span_text="")])) == ""  # nothing to replace


def test_segment_chip_escapes_its_colour_and_name() -> None:
    chip = segment_chip(Segment(id="s", name="<b>VIP</b>", color='red" onclick="x'))
    assert "&lt;b&gt;VIP&lt;/b&gt;" in chip and 'onclick="' not in chip
