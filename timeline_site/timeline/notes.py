"""How much of a long note a card shows before "Show more"."""

from __future__ import annotations

NOTE_PREVIEW_CHARS = 700
NOTE_PREVIEW_LINES = 10


def is_long_note(value: str) -> bool:
    return len(value) > NOTE_PREVIEW_CHARS or value.count("\n") >= NOTE_PREVIEW_LINES


def note_preview(value: str) -> str:
    """The first lines of a long note, cut at a word, ending in "…"."""
    lines = value.splitlines()[:NOTE_PREVIEW_LINES]
    preview = "\n".join(lines)[:NOTE_PREVIEW_CHARS]
    cut = preview.rfind(" ", NOTE_PREVIEW_CHARS // 2)
    if len(preview) == NOTE_PREVIEW_CHARS and cut > 0:
        preview = preview[:cut]
    return preview.rstrip() + "…"
