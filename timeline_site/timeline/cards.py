"""Which card template shows which activity type.

An activity type Invent adds later gets the generic card: it shows the type's
name and metadata, and never breaks the page.
"""

from __future__ import annotations

CARD_DIR = "timeline/cards/"
GENERIC_CARD = CARD_DIR + "generic.html"

CARD_TEMPLATES: dict[str, str] = {
    "note_created": CARD_DIR + "note_created.html",
    "file_uploaded": CARD_DIR + "file_uploaded.html",
    "segment_added": CARD_DIR + "segment.html",
    "segment_removed": CARD_DIR + "segment.html",
    "contact_blocked": CARD_DIR + "contact_status.html",
    "contact_unblocked": CARD_DIR + "contact_status.html",
    "contact_unsubscribed": CARD_DIR + "contact_status.html",
    "contact_resubscribed": CARD_DIR + "contact_status.html",
}


def card_template(activity_type: str) -> str:
    return CARD_TEMPLATES.get(activity_type, GENERIC_CARD)
