"""The registry of activity kinds: what each `type` Invent sends is, in one place.

The parser, the filter form, the cards and the state spans all read this
module. A kind Invent adds later needs one entry here and one card template
(templates/jinja2/cards/); until then its activities get the generic card.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

# How an activity reads in the feed: a card (notes, files: content to read) or a one- or two-line row
# (state changes: who did what, when, and for how long).
Layout = Literal["card", "row"]


class SpanState(StrEnum):
    """A state that one kind opens and another closes ("blocked" from a block to the next unblock)."""

    BLOCKED = "blocked"
    UNSUBSCRIBED = "unsubscribed"
    SEGMENT = "segment"


@dataclass(frozen=True, slots=True)
class ActivityKind:
    value: str  # Invent's `type`
    label: str  # the filter chip
    title: str  # the card's title
    icon: str  # the card icon's CSS name (static/css/app.css: .icon-<icon>)
    template: str  # the card template, under templates/jinja2/cards/: it defines the macro card(entry)
    opens: SpanState | None = None  # this kind begins that state
    closes: SpanState | None = None  # this kind ends that state
    layout: Layout = "card"


KINDS: dict[str, ActivityKind] = {
    kind.value: kind
    for kind in (
        ActivityKind("note_created", "Notes", "Note", "note", "note.html"),
        ActivityKind("file_uploaded", "Files", "File uploaded", "file", "file.html"),
        ActivityKind("segment_added", "Segment added", "Added to segment", "plus", "segment.html",
                     opens=SpanState.SEGMENT, layout="row"),
        ActivityKind("segment_removed", "Segment removed", "Removed from segment", "minus", "segment.html",
                     closes=SpanState.SEGMENT, layout="row"),
        ActivityKind("contact_blocked", "Blocked", "Contact blocked", "contact_blocked", "status.html",
                     opens=SpanState.BLOCKED, layout="row"),
        ActivityKind("contact_unblocked", "Unblocked", "Contact unblocked", "contact_unblocked", "status.html",
                     closes=SpanState.BLOCKED, layout="row"),
        ActivityKind("contact_unsubscribed", "Unsubscribed", "Unsubscribed", "contact_unsubscribed", "status.html",
                     opens=SpanState.UNSUBSCRIBED, layout="row"),
        ActivityKind("contact_resubscribed", "Resubscribed", "Resubscribed", "contact_resubscribed", "status.html",
                     closes=SpanState.UNSUBSCRIBED, layout="row"),
    )
}  # fmt: skip

# Any type this dashboard does not know (yet): shown by name with its metadata.
GENERIC_KIND = ActivityKind("", "Other", "Unrecognised activity", "generic", "generic.html")

KNOWN_ACTIVITY_TYPES: tuple[str, ...] = tuple(KINDS)


def kind_of(activity_type: str) -> ActivityKind:
    return KINDS.get(activity_type, GENERIC_KIND)


@dataclass(frozen=True, slots=True)
class Pair:
    """Two kinds that open and close one state. Segment states are one per segment id."""

    state: SpanState
    opener: str
    closer: str

    @property
    def per_segment(self) -> bool:
        return self.state is SpanState.SEGMENT


def _pairs() -> tuple[Pair, ...]:
    pairs = []
    for state in SpanState:
        opener = next(k.value for k in KINDS.values() if k.opens is state)
        closer = next(k.value for k in KINDS.values() if k.closes is state)
        pairs.append(Pair(state, opener, closer))
    return tuple(pairs)


PAIRS: tuple[Pair, ...] = _pairs()
PAIR_OF_TYPE: dict[str, Pair] = {t: pair for pair in PAIRS for t in (pair.opener, pair.closer)}
PAIR_OF_STATE: dict[SpanState, Pair] = {pair.state: pair for pair in PAIRS}
SPAN_TYPES: frozenset[str] = frozenset(PAIR_OF_TYPE)
