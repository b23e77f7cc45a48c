"""Template filters for upstream text: escape everything, then add back only
what is safe (line breaks and http/https links)."""

from __future__ import annotations

import re

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

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
