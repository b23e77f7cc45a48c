"""The cards' markup (Jinja2 templates, templates/jinja2/cards/): every kind of event, and every value from
Invent kept as text."""

from __future__ import annotations

import html.parser
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from timeline_site.invent.kinds import SpanState
from timeline_site.invent.pairing import ActivitySpan
from timeline_site.invent.parse import parse_activity
from timeline_site.invent.types import Segment
from timeline_site.timeline.display import build_entries
from timeline_site.timeline.templatetags.timeline_tags import activity_cards, avatar, segment_chip, span_notes

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EVIL = "\"><script>alert(1)</script><img src=x onerror=alert(2) title='&amp;"
ALLOWED_TAGS = {
    "article", "div", "header", "span", "h2", "h3", "time", "img", "svg", "path", "bdi", "p", "a", "ul", "li",
    "details", "summary", "br", "strong", "dl", "dt", "dd",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "class", "id", "data-activity-id", "data-activity-type", "data-actor-kind", "aria-posinset", "aria-setsize",
    "aria-labelledby", "tabindex", "aria-hidden", "viewbox", "width", "height", "focusable", "fill", "fill-rule",
    "d", "src", "alt", "loading", "decoding", "referrerpolicy", "datetime", "title", "data-exact", "href", "rel",
    "target", "aria-label", "data-span", "hidden", "data-hx-swap-oob", "data-relative", "role",
    "data-created-at",
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


def entries_of(*items: dict[str, Any], spans: dict[str, ActivitySpan] | None = None) -> list[Any]:
    activities = [parse_activity(item) for item in items]
    return build_entries(activities, offset=0, tz=ZoneInfo("Europe/Paris"), now=NOW, previous=None, spans=spans)


def render(*items: dict[str, Any], spans: dict[str, ActivitySpan] | None = None, total: int | None = 9) -> str:
    return str(activity_cards(entries_of(*items, spans=spans), total))


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


def assert_only_safe_markup(markup: str) -> Tags:
    tags = parsed(markup)
    assert {tag for tag, _ in tags.tags} <= ALLOWED_TAGS
    assert {name for _, attrs in tags.tags for name in attrs} <= ALLOWED_ATTRIBUTES
    assert "<script" not in markup and "<img src=x" not in markup
    for _, attrs in tags.tags:
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                assert str(attrs[name]).startswith("https://"), attrs
        assert not any(name.startswith("on") for name in attrs), attrs
    return tags


@pytest.mark.parametrize(
    "kind",
    ["note_created", "file_uploaded", "segment_added", "segment_removed", "contact_blocked", "contact_unblocked",
     "contact_unsubscribed", "contact_resubscribed", EVIL],
)  # fmt: skip
@pytest.mark.parametrize("with_spans", [False, True], ids=["spans-follow", "spans-inline"])
def test_hostile_values_in_every_field_stay_text(kind: str, with_spans: bool) -> None:
    item = everything_evil(kind)
    ident = parse_activity(item).id
    span = ActivitySpan(SpanState.BLOCKED, opens=False, start=NOW - timedelta(days=4), end=NOW, segment_id=EVIL)
    markup = render(item, spans={ident: span} if with_spans else None)
    tags = assert_only_safe_markup(markup)
    text = "".join(tags.text)
    assert EVIL in text or any(EVIL in (v or "") for _, attrs in tags.tags for v in attrs.values())
    assert [attrs["data-actor-kind"] for tag, attrs in tags.tags if tag == "article"] == ["staff"]
    if kind in ("note_created", "file_uploaded"):
        assert EVIL in text  # the file's name (and the note's text) are shown as text


def test_hostile_values_in_the_pieces_the_header_shares_stay_text() -> None:
    chip = str(segment_chip(Segment(id=EVIL, name=EVIL, color=EVIL)))
    face = str(avatar(EVIL, "https://cdn.example.com/" + EVIL, 48, EVIL))
    for markup in (chip, face):
        tags = assert_only_safe_markup(markup)
        assert EVIL in "".join(tags.text) or any(EVIL in (v or "") for _, attrs in tags.tags for v in attrs.values())


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
    assert all(link["target"] == "_blank" for link in links)
    text = " ".join(tags.text)
    assert "invoice.pdf" in text and "2.0\xa0KB · application/pdf" in text and "size unknown · image/png" in text
    assert "Grace Hopper" in text and "GH" in text
    thumbs = [attrs for tag, attrs in tags.tags if tag == "a" and attrs.get("class") == "thumb"]
    assert [t["href"] for t in thumbs] == ["https://files.example.com/photo.png"]  # only the image gets one


def test_a_short_note_has_no_show_more_and_keeps_its_line_breaks() -> None:
    markup = render(raw("note_created", note={"id": "n", "content": "one\ntwo <b>three</b>"}))
    assert '<div class="note-text">one<br>two &lt;b&gt;three&lt;/b&gt;</div>' in markup
    assert "note-more" not in markup and "note-preview" not in markup


def test_a_note_without_content_or_details_says_so() -> None:
    assert "(This note has no text.)" in render(raw("note_created", note={"id": "n", "content": ""}))
    assert "(Invent sent this note without its content.)" in render(raw("note_created"))


def test_file_without_a_link_says_so() -> None:
    zipped = {"id": "f", "file_filename": "a.zip", "file_mimetype": "application/zip", "file_size": 5 * 1024**3}
    markup = render(raw("file_uploaded", file=zipped))
    assert "file file-archive" in markup and "No link" in markup and "<a " not in markup
    assert "5.0\xa0GB · application/zip" in markup
    assert "without the file's details" in render(raw("file_uploaded"))


@pytest.mark.parametrize(
    ("mimetype", "shown"),
    [
        ("application/vnd.ms-excel", "application/vnd.ms-excel"),
        ("a" * 40, "a" * 40),  # exactly the room there is: whole
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedo…",
        ),
    ],
)
def test_a_files_type_is_cut_to_forty_characters(mimetype: str, shown: str) -> None:
    markup = render(
        raw("file_uploaded", file={"id": "f", "file_filename": "x", "file_mimetype": mimetype, "file_size": 1})
    )
    assert f"1\xa0byte · {shown}</span>" in markup and len(shown) <= 40


def test_a_file_with_a_link_opens_in_a_new_tab_without_a_referrer() -> None:
    sheet = {"id": "f", "file_filename": "q3.csv", "file_mimetype": "text/csv", "file_size": 1,
             "file_url": "https://files.example.com/q3.csv"}  # fmt: skip
    tags = parsed(render(raw("file_uploaded", file=sheet)))
    opens = [attrs for tag, attrs in tags.tags if tag == "a"]
    assert opens == [{"class": "file-open", "href": "https://files.example.com/q3.csv", "target": "_blank",
                      "rel": "noopener noreferrer"}]  # fmt: skip
    assert "file file-sheet" in [attrs.get("class") for _, attrs in tags.tags]
    assert "1\xa0byte · text/csv" in " ".join(tags.text)


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
    assert "System" in text and "performer-system" in markup  # no actor, no assistant: the system did it
    assert 'class="status-detail"' not in render(raw("contact_blocked"))  # nothing to add, no empty line
    # Metadata that is not text is not shown as a reason.
    assert "Reason:" not in render(raw("contact_blocked", metadata={"reason": {"code": 7}, "feedback": ["x"]}))


@pytest.mark.parametrize(
    ("kind", "title", "icon"),
    [
        ("note_created", "Note", "icon-note"),
        ("file_uploaded", "File uploaded", "icon-file"),
        ("segment_added", "Added to segment", "icon-plus"),
        ("segment_removed", "Removed from segment", "icon-minus"),
        ("contact_blocked", "Contact blocked", "icon-contact_blocked"),
        ("contact_unblocked", "Contact unblocked", "icon-contact_unblocked"),
        ("contact_unsubscribed", "Unsubscribed", "icon-contact_unsubscribed"),
        ("contact_resubscribed", "Resubscribed", "icon-contact_resubscribed"),
    ],
)
def test_each_kind_has_its_title_and_icon(kind: str, title: str, icon: str) -> None:
    markup = render(raw(kind))
    assert f'<h3 class="card-title" id="t-1">{title}</h3>' in markup
    assert f'class="card-icon {icon}"' in markup
    assert f'<article class="activity activity-{kind}" ' in markup and "activity-unknown" not in markup


def test_an_assistant_is_named_and_badged() -> None:
    markup = render(raw("contact_blocked", assistant={"id": "as", "name": "Triage bot"}))
    assert "performer-assistant" in markup and "AI assistant" in markup and "Triage bot" in markup
    assert 'data-actor-kind="assistant"' in markup


def test_unknown_types_get_the_generic_card_with_their_metadata() -> None:
    markup = render(raw("contact_merged", metadata={"into": "ct_9", "count": 2, "tags": ["a", "b"]}))
    assert "activity-unknown" in markup and "icon-generic" in markup
    assert '<h3 class="card-title" id="t-1">Unrecognised activity: Contact merged</h3>' in markup
    assert "<dt><bdi>Count</bdi></dt><dd><bdi>2</bdi></dd>" in markup
    assert "<dt><bdi>Into</bdi></dt><dd><bdi>ct_9</bdi></dd>" in markup
    assert "<dt><bdi>Tags</bdi></dt><dd><bdi>a, b</bdi></dd>" in markup
    assert "does not know yet" in render(raw("x" * 300))
    assert "x" * 65 not in render(raw("x" * 300))  # a long type name is cut short


def test_feed_positions_and_set_size() -> None:
    markup = render(raw("note_created", 1), raw("note_created", 2), total=None)
    tags = [attrs for tag, attrs in parsed(markup).tags if tag == "article"]
    assert [a["aria-posinset"] for a in tags] == ["1", "2"] and {a["aria-setsize"] for a in tags} == {"-1"}
    assert [a["aria-labelledby"] for a in tags] == ["t-1", "t-2"]
    assert 'id="t-1"' in markup and 'id="t-2"' in markup
    assert {
        a["aria-setsize"] for tag, a in parsed(render(raw("note_created"), total=120)).tags if tag == "article"
    } == {"120"}


def test_day_headers_and_times_are_in_the_card() -> None:
    markup = render(raw("note_created", 1), raw("note_created", 30))
    assert markup.count('<h2 class="day-header">') == 2  # today, and the day before
    assert '<h2 class="day-header">Today</h2>' in markup and '<h2 class="day-header">Yesterday</h2>' in markup
    # The exact time in the viewer's zone on hover and for screen readers; how long ago in words.
    assert re.search(
        r'<time datetime="2026-11-30T11:00:00\+00:00" data-exact="Mon 30 Nov 2026, 12:00:00 CET"'
        r"[^>]*>.*?1 h ago.*?</time>",
        markup,
    )


def test_span_notes_inline_pending_and_out_of_band() -> None:
    blocked = raw("contact_blocked", 1)
    span = ActivitySpan(SpanState.BLOCKED, opens=False, start=NOW - timedelta(days=4), end=NOW - timedelta(hours=1))
    assert '<p id="span-1" class="span-note" data-span="lasted">Blocked for 3 days</p>' in render(
        blocked, spans={"a1": span}
    )
    still = ActivitySpan(SpanState.BLOCKED, opens=True, start=NOW - timedelta(hours=1), end=None)
    assert '<p id="span-1" class="span-note span-still" data-span="still">Still blocked</p>' in render(
        blocked, spans={"a1": still}
    )
    ended = ActivitySpan(SpanState.BLOCKED, opens=True, start=NOW - timedelta(days=4), end=NOW)
    assert 'data-span="ended">Unblocked 4 days later</p>' in render(blocked, spans={"a1": ended})
    # They follow in their own request: a reserved, empty line keeps the card's height.
    assert '<p id="span-1" class="span-note span-empty"></p>' in render(blocked, spans=None)
    # Nothing reliable to say: the paired card keeps its reserved line all the same.
    assert '<p id="span-1" class="span-note span-empty"></p>' in render(blocked, spans={})
    assert "span-note" not in render(raw("note_created"), spans=None)  # only paired kinds have one
    entries = entries_of(blocked, spans={"a1": span})
    oob = str(span_notes(entries))
    assert oob == '<p id="span-1" class="span-note" data-span="lasted" data-hx-swap-oob="true">Blocked for 3 days</p>'
    assert str(span_notes([replace(entries[0], span=None, span_text="")])) == ""  # nothing to replace


def test_segment_chip_escapes_its_colour_and_name() -> None:
    chip = str(segment_chip(Segment(id="s", name="<b>VIP</b>", color='red" onclick="x')))
    assert "&lt;b&gt;VIP&lt;/b&gt;" in chip and 'onclick="' not in chip
