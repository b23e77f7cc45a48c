"""Template filters for upstream text: escape everything, then add back only
what is safe (line breaks and http/https links)."""

from __future__ import annotations

import re

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from timeline_site.timeline.display import Entry, Performer

register = template.Library()

URL_PATTERN = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
TRAILING_PUNCTUATION = ".,;:!?)]}'\""
NOTE_PREVIEW_CHARS = 700
NOTE_PREVIEW_LINES = 10


def _link(url: str) -> str:
    trimmed = url.rstrip(TRAILING_PUNCTUATION)
    tail = url[len(trimmed) :]
    return str(
        format_html('<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>{}', trimmed, trimmed, tail)
    )


@register.filter
def note_text(value: str) -> SafeString:
    """Plain text with line breaks kept and http(s) URLs clickable; nothing else is markup."""
    parts: list[str] = []
    position = 0
    for match in URL_PATTERN.finditer(value):
        parts.append(escape(value[position : match.start()]))
        parts.append(_link(match.group(0)))
        position = match.end()
    parts.append(escape(value[position:]))
    html = "".join(parts).replace("\r\n", "\n").replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - every piece above was escaped or built by format_html


@register.filter
def is_long_note(value: str) -> bool:
    return len(value) > NOTE_PREVIEW_CHARS or value.count("\n") >= NOTE_PREVIEW_LINES


@register.filter
def note_preview(value: str) -> str:
    lines = value.splitlines()[:NOTE_PREVIEW_LINES]
    preview = "\n".join(lines)[:NOTE_PREVIEW_CHARS]
    cut = preview.rfind(" ", NOTE_PREVIEW_CHARS // 2)
    if len(preview) == NOTE_PREVIEW_CHARS and cut > 0:
        preview = preview[:cut]
    return preview.rstrip() + "…"


@register.filter
def human_size(value: int | None) -> str:
    return "size unknown" if value is None else str(filesizeformat(value)).replace("\xa0", " ")


@register.filter
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


@register.filter
def metadata_items(metadata: object) -> list[tuple[str, str]]:
    """Metadata as (key, value) text pairs for display, bounded in count and length."""
    if not isinstance(metadata, dict):
        return []
    items = []
    for key, value in list(metadata.items())[:20]:
        shown = value if isinstance(value, str) else repr(value)
        items.append((str(key)[:80], shown[:500]))
    return items


@register.filter
def metadata_text(metadata: object, key: str) -> str:
    """One string value from metadata ('' when absent or not text)."""
    if not isinstance(metadata, dict):
        return ""
    value = metadata.get(key)
    return value[:1000] if isinstance(value, str) else ""


# --- The two pieces every card repeats -------------------------------------
# Rendered in Python rather than as included templates: they appear on every
# card, and an include costs more than the markup it produces (see make bench).

_SYSTEM_PERFORMER = mark_safe(
    '<span class="performer performer-system"><span class="avatar avatar-system" aria-hidden="true">'
    '<svg viewBox="0 0 24 24" width="16" height="16" focusable="false"><path fill="currentColor" d="M12 8a4 4 0 1 0'
    " 0 8 4 4 0 0 0 0-8Zm9 3h-1.1a8 8 0 0 0-1.3-3.2l.8-.8-1.4-1.4-.8.8A8 8 0 0 0 14 5.1V4h-4v1.1a8 8 0 0 0-3.2 1.3l-.8"
    "-.8-1.4 1.4.8.8A8 8 0 0 0 4.1 11H3v2h1.1a8 8 0 0 0 1.3 3.2l-.8.8 1.4 1.4.8-.8a8 8 0 0 0 3.2 1.3V20h4v-1.1a8 8 0 0"
    ' 0 3.2-1.3l.8.8 1.4-1.4-.8-.8a8 8 0 0 0 1.3-3.2H21v-2Z"/></svg></span>'
    '<span class="performer-name">System</span></span>'
)
_AI_BADGE = mark_safe('<span class="badge badge-ai" title="An AI assistant did this">AI assistant</span>')


@register.simple_tag
def performer(who: Performer) -> SafeString:
    """Who did it, the same on every card: avatar (initials behind it), name, and an AI badge."""
    if who.kind == "system":
        return _SYSTEM_PERFORMER
    avatar = (
        format_html(
            '<img src="{}" alt="" width="32" height="32" loading="lazy" decoding="async" referrerpolicy="no-referrer">',
            who.avatar,
        )
        if who.avatar
        else ""
    )
    return format_html(
        '<span class="performer performer-{}"><span class="avatar" aria-hidden="true"><span class="initials">{}</span>'
        '{}</span> <span class="performer-name"><bdi>{}</bdi></span>{}</span>',
        who.kind, who.initials, avatar, who.name, _AI_BADGE if who.kind == "assistant" else "",
    )  # fmt: skip


@register.simple_tag
def when(entry: Entry) -> SafeString:
    """Relative time, with the exact time and zone on hover, on focus and for screen readers."""
    return format_html(
        '<time datetime="{}" title="{}" data-exact="{}" tabindex="0">{}'
        '<span class="visually-hidden">, {}</span></time>',
        entry.activity.created_at.isoformat(), entry.exact, entry.exact, entry.relative, entry.exact,
    )  # fmt: skip
