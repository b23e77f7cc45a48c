"""Typed records for what Invent returns.

Every nested object is optional: the public docs leave most required/nullable
flags unstated, so a missing or null object simply becomes None here. URLs that
reach the browser (avatars, file links) are already checked by the parser:
they are http(s) or same-origin paths, or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Literal

# Re-exported: the client checks type filters against it.
from timeline_site.invent.kinds import KNOWN_ACTIVITY_TYPES as KNOWN_ACTIVITY_TYPES

# Invent's segment colours, in the docs' order (Tailwind palette names).
SEGMENT_COLORS: tuple[str, ...] = (
    "red", "orange", "amber", "yellow", "lime", "green", "teal", "cyan", "sky",
    "blue", "indigo", "violet", "purple", "fuchsia", "pink", "rose", "neutral",
)  # fmt: skip
FALLBACK_SEGMENT_COLOR = "neutral"


ActorKind = Literal["staff", "assistant", "system"]
ACTOR_KINDS: tuple[ActorKind, ...] = ("staff", "assistant", "system")


@lru_cache(maxsize=1024)  # the same few people act on every page
def initials_of(name: str) -> str:
    words = [w for w in name.split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or "?"


@dataclass(frozen=True, slots=True)
class Actor:
    """A staff user (`actor` on activities, `user` on notes and files)."""

    id: str
    name: str
    email: str = ""
    avatar: str | None = None
    seen_at: datetime | None = None

    @property
    def initials(self) -> str:
        return initials_of(self.name)


@dataclass(frozen=True, slots=True)
class Assistant:
    id: str
    name: str
    avatar_url: str | None = None

    @property
    def initials(self) -> str:
        return initials_of(self.name)


@dataclass(frozen=True, slots=True)
class Board:
    board_id: str
    board_name: str
    column_id: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    name: str
    color: str = FALLBACK_SEGMENT_COLOR
    contacts_count: int | None = None
    boards: tuple[Board, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class File:
    id: str
    filename: str
    size: int | None = None
    mimetype: str = ""
    url: str | None = None
    path: str = ""
    created_at: datetime | None = None

    @property
    def is_image(self) -> bool:
        return self.mimetype in {"image/png", "image/jpeg", "image/gif", "image/webp"}


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    contact_id: str = ""
    content: str = ""
    attachments: tuple[File, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    user: Actor | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    id: str
    type: str  # a kind in timeline_site.invent.kinds, or one this code does not know yet
    created_at: datetime
    actor: Actor | None = None
    assistant: Assistant | None = None
    segment: Segment | None = None
    broadcast: Broadcast | None = None
    note: Note | None = None
    file: File | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[datetime, str]:
        """Newest-first order is descending on this key (ties broken by id)."""
        return (self.created_at, self.id)

    @property
    def is_known_type(self) -> bool:
        return self.type in KNOWN_ACTIVITY_TYPES

    def metadata_text(self, key: str) -> str:
        """A text value of the free-form metadata ("reason", "feedback"); "" when absent or not text.
        Where it is shown, the display bounds it."""
        value = self.metadata.get(key)
        return value if isinstance(value, str) else ""

    @property
    def staff_member(self) -> Actor | None:
        """The colleague who did it: the activity's actor, or the note's author."""
        return self.actor or (self.note.user if self.note is not None else None)

    @property
    def actor_kind(self) -> ActorKind:
        """Who did it: an AI assistant, a colleague, or the system (the contact's own actions,
        automations, and anything without an actor)."""
        if self.assistant is not None:
            return "assistant"
        return "staff" if self.staff_member is not None else "system"


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    type: str
    user_id: str = ""
    name: str = ""
    username: str = ""
    email: str = ""
    phone: str = ""
    avatar: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str = ""
    blocked: bool = False
    unsubscribed: bool = False
    is_admin: bool = False
    channels: tuple[Channel, ...] = ()
    segments: tuple[Segment, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    blocked_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    unsubscribe_reason: str = ""
    unsubscribe_feedback: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or self.id

    @property
    def email(self) -> str:
        return next((c.email for c in self.channels if c.email), "")

    @property
    def phone(self) -> str:
        return next((c.phone for c in self.channels if c.phone), "")

    @property
    def avatar(self) -> str | None:
        return next((c.avatar for c in self.channels if c.avatar), None)

    @property
    def initials(self) -> str:
        return initials_of(self.display_name)


@dataclass(frozen=True, slots=True)
class Page[T]:
    """One upstream page and what its pagination headers said."""

    items: tuple[T, ...]
    page: int
    take: int
    total: int | None  # pagination-count, None when the header was missing or malformed
    has_more: bool
    skipped: int = 0  # malformed items dropped while parsing


ActivityPage = Page[Activity]
ContactPage = Page[Contact]
