"""The activity cards: one small function per kind of event, each returning HTML.

Why Python and not templates: a page is 50 cards, and rendering them through
Django templates (an include per card and per file, ~40 variable lookups each)
was most of the dashboard's own time per page, several times what Invent's
answer costs us to read (see `make bench`). Built here with f-strings, the same
markup costs a small fraction of that. The page around the cards stays a
template (timeline/timeline.html), which reaches these through timeline_tags.

The one rule: every value that came from Invent goes through `esc` (or one of
the helpers that escape), inside text and attributes alike. Values checked by
the parser (URLs are http(s) or same-origin, segment colours are from a fixed
list) are escaped all the same. tests/test_cards.py holds hostile values to
every field.

An activity type Invent adds later gets the generic card: its type's name and
metadata, never a broken page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator, slugify

from timeline_site.invent.types import Activity, File, Segment
from timeline_site.timeline.display import Entry, Performer

_NEEDS_ESCAPE = re.compile(r"[&<>\"']")


def esc(value: object) -> str:
    """HTML-escape text for an element or a quoted attribute (the same as Django's autoescape).
    Most values have nothing to escape: one search instead of five replaces."""
    text = str(value)
    return escape(text, quote=True) if _NEEDS_ESCAPE.search(text) else text


# --- Text from Invent ---------------------------------------------------------

URL_PATTERN = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?)]}'\""
NOTE_PREVIEW_CHARS = 700
NOTE_PREVIEW_LINES = 10


def _link(url: str) -> str:
    trimmed = url.rstrip(TRAILING_PUNCTUATION)
    tail = url[len(trimmed) :]
    return f'<a href="{esc(trimmed)}" rel="noopener noreferrer nofollow" target="_blank">{esc(trimmed)}</a>{esc(tail)}'


def note_text(value: str) -> str:
    """Plain text with line breaks kept and http(s) URLs clickable; nothing else is markup."""
    parts: list[str] = []
    position = 0
    for match in URL_PATTERN.finditer(value):
        parts.append(esc(value[position : match.start()]))
        parts.append(_link(match.group(0)))
        position = match.end()
    parts.append(esc(value[position:]))
    return "".join(parts).replace("\r\n", "\n").replace("\n", "<br>")


def is_long_note(value: str) -> bool:
    return len(value) > NOTE_PREVIEW_CHARS or value.count("\n") >= NOTE_PREVIEW_LINES


def note_preview(value: str) -> str:
    lines = value.splitlines()[:NOTE_PREVIEW_LINES]
    preview = "\n".join(lines)[:NOTE_PREVIEW_CHARS]
    cut = preview.rfind(" ", NOTE_PREVIEW_CHARS // 2)
    if len(preview) == NOTE_PREVIEW_CHARS and cut > 0:
        preview = preview[:cut]
    return preview.rstrip() + "…"


_SIZE_UNITS = ("KB", "MB", "GB", "TB", "PB")


def human_size(value: int | None) -> str:
    """ "0 bytes", "1 byte", "2.0 KB", "5.0 GB": what Django's filesizeformat says in English."""
    if value is None:
        return "size unknown"
    if value < 1024:
        return "1 byte" if value == 1 else f"{value} bytes"
    size = float(value)
    for unit in _SIZE_UNITS:
        size /= 1024
        if round(size, 1) < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def truncate(value: str, length: int) -> str:
    return value if len(value) <= length else Truncator(value).chars(length)


def file_kind(mimetype: str) -> str:
    """An icon name for a MIME type."""
    if mimetype.startswith("image/"):
        return "image"
    if mimetype == "application/pdf":
        return "pdf"
    if mimetype in {"text/csv", "application/vnd.ms-excel"} or "spreadsheet" in mimetype:
        return "sheet"
    if mimetype in {"application/zip", "application/x-zip-compressed", "application/gzip", "application/x-tar"}:
        return "archive"
    if mimetype.startswith("text/"):
        return "text"
    return "file"


def metadata_items(metadata: object) -> list[tuple[str, str]]:
    """Metadata as (key, value) text pairs for display, bounded in count and length."""
    if not isinstance(metadata, dict):
        return []
    items = []
    for key, value in list(metadata.items())[:20]:
        shown = value if isinstance(value, str) else repr(value)
        items.append((str(key)[:80], shown[:500]))
    return items


def metadata_text(metadata: object, key: str) -> str:
    """One string value from metadata ('' when absent or not text)."""
    if not isinstance(metadata, dict):
        return ""
    value = metadata.get(key)
    return value[:1000] if isinstance(value, str) else ""


@lru_cache(maxsize=64)
def type_class(activity_type: str) -> str:
    """The CSS class of an activity type (types repeat on every page: slugify once each)."""
    return "activity-" + slugify(activity_type)


# --- Pieces every card or several cards share ------------------------------------------

_SYSTEM_PERFORMER = (
    '<span class="performer performer-system"><span class="avatar avatar-system" aria-hidden="true">'
    '<svg viewBox="0 0 24 24" width="16" height="16" focusable="false"><path fill="currentColor" d="M12 8a4 4 0 1 0'
    " 0 8 4 4 0 0 0 0-8Zm9 3h-1.1a8 8 0 0 0-1.3-3.2l.8-.8-1.4-1.4-.8.8A8 8 0 0 0 14 5.1V4h-4v1.1a8 8 0 0 0-3.2 1.3l-.8"
    "-.8-1.4 1.4.8.8A8 8 0 0 0 4.1 11H3v2h1.1a8 8 0 0 0 1.3 3.2l-.8.8 1.4 1.4.8-.8a8 8 0 0 0 3.2 1.3V20h4v-1.1a8 8 0 0"
    ' 0 3.2-1.3l.8.8 1.4-1.4-.8-.8a8 8 0 0 0 1.3-3.2H21v-2Z"/></svg></span>'
    '<span class="performer-name">System</span></span>'
)
_AI_BADGE = '<span class="badge badge-ai" title="An AI assistant did this">AI assistant</span>'


def performer_html(who: Performer) -> str:
    """Who did it, the same on every card: avatar (initials behind it), name, and an AI badge."""
    if who.kind == "system":
        return _SYSTEM_PERFORMER
    avatar = (
        f'<img src="{esc(who.avatar)}" alt="" width="32" height="32" loading="lazy" decoding="async"'
        ' referrerpolicy="no-referrer">'
        if who.avatar
        else ""
    )
    badge = _AI_BADGE if who.kind == "assistant" else ""
    return (
        f'<span class="performer performer-{esc(who.kind)}"><span class="avatar" aria-hidden="true">'
        f'<span class="initials">{esc(who.initials)}</span>{avatar}</span> '
        f'<span class="performer-name"><bdi>{esc(who.name)}</bdi></span>{badge}</span>'
    )


def when_html(entry: Entry) -> str:
    """Relative time, with the exact time and zone on hover, on focus and for screen readers."""
    exact = esc(entry.exact)
    return (
        f'<time datetime="{esc(entry.activity.created_at.isoformat())}" title="{exact}" data-exact="{exact}"'
        f' tabindex="0">{esc(entry.relative)}<span class="visually-hidden">, {exact}</span></time>'
    )


def card_head(entry: Entry, *, icon: str, title: str, head_class: str = "card-head") -> str:
    """The head of every card. `title` is markup: callers escape what came from Invent."""
    return (
        f'<header class="{head_class}"><span class="card-icon {icon}" aria-hidden="true"></span>'
        f'<h3 class="card-title" id="t-{entry.position}">{title}</h3>'
        f"{performer_html(entry.performer)}{when_html(entry)}</header>"
    )


def segment_chip(segment: Segment) -> str:
    return (
        f'<span class="chip seg-{esc(segment.color)}"><span class="chip-dot" aria-hidden="true"></span>'
        f"<bdi>{esc(segment.name)}</bdi></span>"
    )


_FILE_ICON_PATHS = {
    "pdf": "M6 2h9l5 5v15H6V2Zm8 1.5V8h4.5L14 3.5ZM8 13h2a1.5 1.5 0 0 1 0 3H9v2H8v-5Zm1 1v1h1a.5.5 0 0 0 0-1H9Zm3-1h1.5"
    "a2.5 2.5 0 0 1 0 5H12v-5Zm1 1v3h.5a1.5 1.5 0 0 0 0-3H13Zm3-1h3v1h-2v1h1.5v1H17v2h-1v-5Z",
    "sheet": "M6 2h9l5 5v15H6V2Zm8 1.5V8h4.5L14 3.5ZM8 11v8h10v-8H8Zm1 1h3.5v2H9v-2Zm4.5 0H17v2h-3.5v-2Z"
    "M9 15h3.5v3H9v-3Zm4.5 0H17v3h-3.5v-3Z",
    "archive": "M6 2h9l5 5v15H6V2Zm8 1.5V8h4.5L14 3.5ZM10 4v2h2V4h-2Zm0 3v2h2V7h-2Zm0 3v2h2v-2h-2Zm-1 4v4h4v-4H9Zm1 1h2"
    "v2h-2v-2Z",
    "image": "M4 4h16v16H4V4Zm2 2v9l4-4 3 3 2-2 3 3V6H6Zm9 1.5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3Z",
    "file": "M6 2h9l5 5v15H6V2Zm8 1.5V8h4.5L14 3.5ZM8 12h8v1H8v-1Zm0 3h8v1H8v-1Zm0 3h5v1H8v-1Z",
}


def file_icon(kind: str) -> str:
    path = _FILE_ICON_PATHS.get(kind, _FILE_ICON_PATHS["file"])
    return (
        f'<svg viewBox="0 0 24 24" width="24" height="24" focusable="false"><path fill="currentColor" d="{path}"/>'
        "</svg>"
    )


def file_html(file: File) -> str:
    """One file: image thumbnail or type icon, name, size, link."""
    kind = file_kind(file.mimetype)
    name = esc(file.filename)
    url = esc(file.url) if file.url else ""
    if file.is_image and url:
        preview = (
            f'<a class="thumb" href="{url}" target="_blank" rel="noopener noreferrer"><img src="{url}" alt="{name}"'
            ' width="96" height="72" loading="lazy" decoding="async" referrerpolicy="no-referrer"></a>'
        )
    else:
        preview = f'<span class="file-icon" aria-hidden="true">{file_icon(kind)}</span>'
    mimetype = f" · {esc(truncate(file.mimetype, 40))}" if file.mimetype else ""
    link = (
        f'<a class="file-open" href="{url}" target="_blank" rel="noopener noreferrer">Open'
        f'<span class="visually-hidden"> {name}</span></a>'
        if url
        else '<span class="file-open file-unavailable">No link</span>'
    )
    return (
        f'<div class="file file-{kind}">{preview}<span class="file-meta">'
        f'<span class="file-name" title="{name}"><bdi>{name}</bdi></span>'
        f'<span class="file-size">{esc(human_size(file.size))}{mimetype}</span></span>{link}</div>'
    )


def span_note(entry: Entry, *, oob: bool = False) -> str:
    """How long a paired state lasted. When the spans follow in their own request, an empty
    placeholder waits for them (replaced out of band, `oob`)."""
    span = entry.span
    if entry.span_text and span is not None:
        kind = "still" if span.still else "ended" if span.opens else "lasted"
        still_class = " span-still" if span.still else ""
        swap = ' data-hx-swap-oob="true"' if oob else ""
        return (
            f'<p id="span-{entry.position}" class="span-note{still_class}" data-span="{kind}"{swap}>'
            f"{esc(entry.span_text)}</p>"
        )
    if entry.span_pending:
        return f'<p id="span-{entry.position}" class="span-note" hidden></p>'
    return ""


# --- The cards ---------------------------------------------------------------------------


def note_card(entry: Entry) -> str:
    note = entry.activity.note
    parts = [card_head(entry, icon="icon-note", title="Note")]
    if note is None:
        parts.append('<p class="muted">(Invent sent this note without its content.)</p>')
    elif not note.content:
        parts.append('<p class="muted">(This note has no text.)</p>')
    elif is_long_note(note.content):
        parts.append(
            f'<div class="note-text note-preview">{note_text(note_preview(note.content))}</div>'
            '<details class="note-more"><summary><span class="more">Show more</span><span class="less">Show less'
            f'</span></summary><div class="note-text">{note_text(note.content)}</div></details>'
        )
    else:
        parts.append(f'<div class="note-text">{note_text(note.content)}</div>')
    if note is not None and note.attachments:
        files = "".join(f"<li>{file_html(file)}</li>" for file in note.attachments)
        parts.append(f'<ul class="attachments" aria-label="Attachments">{files}</ul>')
    return "".join(parts)


def file_card(entry: Entry) -> str:
    file = entry.activity.file
    body = file_html(file) if file else '<p class="muted">(Invent sent this upload without the file\'s details.)</p>'
    return card_head(entry, icon="icon-file", title="File uploaded") + body


def segment_card(entry: Entry) -> str:
    activity = entry.activity
    segment = activity.segment
    if activity.type == "segment_added":
        head = card_head(entry, icon="icon-plus", title="Added to segment")
    else:
        head = card_head(entry, icon="icon-minus", title="Removed from segment")
    if segment is None:
        body = '<p class="muted">(Invent did not say which segment.)</p>'
    else:
        boards = ""
        if segment.boards:
            names = ", ".join(f"<bdi>{esc(board.board_name)}</bdi>" for board in segment.boards)
            boards = f'<span class="boards">Boards: {names}</span>'
        body = f'<p class="segment-line">{segment_chip(segment)}{boards}</p>'
    return head + body + span_note(entry)


_STATUS_TITLES = {
    "contact_blocked": "Contact blocked",
    "contact_unblocked": "Contact unblocked",
    "contact_unsubscribed": "Unsubscribed",
    "contact_resubscribed": "Resubscribed",
}


def status_card(entry: Entry) -> str:
    """Blocked, unblocked, unsubscribed, resubscribed: who, why, from which broadcast, for how long."""
    activity = entry.activity
    kind = esc(activity.type)
    head = card_head(
        entry,
        icon=f"icon-{kind}",
        title=_STATUS_TITLES.get(activity.type, "Resubscribed"),
        head_class=f"card-head status-line status-{kind}",
    )
    details = []
    if activity.broadcast:
        details.append(f"<span>From broadcast <strong><bdi>{esc(activity.broadcast.name)}</bdi></strong></span>")
    if reason := metadata_text(activity.metadata, "reason"):
        details.append(f"<span>Reason: <bdi>{esc(reason)}</bdi></span>")
    if feedback := metadata_text(activity.metadata, "feedback"):
        details.append(f"<span>Feedback: “<bdi>{esc(feedback)}</bdi>”</span>")
    body = f'<p class="status-detail">{"".join(details)}</p>' if details else ""
    return head + body + span_note(entry)


def generic_card(entry: Entry) -> str:
    """Any type this dashboard does not know (yet): its name and metadata as text."""
    activity = entry.activity
    head = card_head(entry, icon="icon-generic", title=f"<bdi>{esc(truncate(activity.type, 64))}</bdi>")
    items = metadata_items(activity.metadata)
    if not items:
        return head + '<p class="muted">An activity of a kind this dashboard does not know yet.</p>'
    rows = "".join(f"<div><dt><bdi>{esc(key)}</bdi></dt><dd><bdi>{esc(value)}</bdi></dd></div>" for key, value in items)
    return f'{head}<dl class="metadata">{rows}</dl>'


CARDS: dict[str, Callable[[Entry], str]] = {
    "note_created": note_card,
    "file_uploaded": file_card,
    "segment_added": segment_card,
    "segment_removed": segment_card,
    "contact_blocked": status_card,
    "contact_unblocked": status_card,
    "contact_unsubscribed": status_card,
    "contact_resubscribed": status_card,
}


def card_for(activity: Activity) -> Callable[[Entry], str]:
    return CARDS.get(activity.type, generic_card)


def article(entry: Entry, *, set_size: int) -> str:
    """One feed item (the ARIA feed pattern): a day header when a new day starts, then the card."""
    activity = entry.activity
    unknown = "" if entry.is_known_type else " activity-unknown"
    day = f'<h2 class="day-header">{esc(entry.day)}</h2>' if entry.day else ""
    return (
        f'<article class="activity {type_class(activity.type)}{unknown}" data-activity-id="{esc(activity.id)}"'
        f' data-activity-type="{esc(activity.type)}" aria-posinset="{entry.position}" aria-setsize="{set_size}"'
        f' aria-labelledby="t-{entry.position}" tabindex="0">{day}<div class="card">{card_for(activity)(entry)}</div>'
        "</article>"
    )


def articles(entries: Iterable[Entry], *, total: int | None) -> SafeString:
    """The cards of one page; aria-setsize is -1 when Invent did not say how many there are."""
    set_size = -1 if total is None else total
    html = "\n".join(article(entry, set_size=set_size) for entry in entries)
    return mark_safe(html)  # noqa: S308 - every value from Invent above went through esc()


def span_notes(entries: Iterable[Entry]) -> SafeString:
    """The spans of a page already on screen, each replacing its placeholder out of band."""
    html = "".join(span_note(entry, oob=True) for entry in entries if entry.span_text)
    return mark_safe(html)  # noqa: S308 - built by span_note, which escapes
