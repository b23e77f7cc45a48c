"""What the contact header and the find results show about a contact.

Pure functions of typed records, a time zone and "now" (like display.py), so
the templates only lay things out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

from django.utils.dateformat import format as format_date

from timeline_site.invent.contact_state import ContactState
from timeline_site.invent.types import Activity, Contact, Segment
from timeline_site.timeline.display import Performer, exact_time, performer_of, relative_time

# Invent's channel types (the `type` of a contact's channel: the org's connection the contact is reached
# through) as staff know them. "gmail" is the org's mailbox, not the contact's provider, and the SMS
# provider's name means nothing to a reader: what they need is how to reach the contact.
CHANNEL_PLATFORMS: dict[str, str] = {
    "gmail": "E-mail",
    "whatsapp_bot": "WhatsApp",
    "messenger_bot": "Messenger",
    "instagram_dm": "Instagram",
    "twilio": "SMS",
    "telnyx": "SMS",
    "slack_bot": "Slack",
    "telegram_bot": "Telegram",
    "google_calendar": "Google Calendar",
    "internal": "Internal",
    "custom": "Custom channel",
}
GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
REASON_CODE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")

ValueKind = Literal["email", "phone", "username", "user_id"]


def platform_label(channel_type: str, address: str = "") -> str:
    """The channel as a newcomer reads it, from its type and its address: "Gmail" only for a Gmail address."""
    if channel_type == "gmail" and address.rpartition("@")[2].strip().lower() in GMAIL_DOMAINS:
        return "Gmail"
    known = CHANNEL_PLATFORMS.get(channel_type)
    if known:
        return known
    return channel_type.replace("_", " ").strip().capitalize()[:40] or "Channel"


def reason_text(reason: str) -> str:
    """Invent sends codes ("too_many_emails") or free text: codes are made readable, text is kept."""
    reason = reason.strip()
    if REASON_CODE.fullmatch(reason):
        return reason.replace("_", " ").capitalize()
    return reason


@dataclass(frozen=True, slots=True)
class ChannelValue:
    kind: ValueKind
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ChannelLine:
    type: str
    platform: str
    values: tuple[ChannelValue, ...]


def channel_lines(contact: Contact) -> tuple[ChannelLine, ...]:
    """Each channel with the values worth copying: e-mail, phone, else its user name or user id."""
    lines = []
    for channel in contact.channels:
        values: list[ChannelValue] = []
        if channel.email:
            values.append(ChannelValue("email", "E-mail", channel.email))
        if channel.phone:
            values.append(ChannelValue("phone", "Phone", channel.phone))
        if channel.username:
            values.append(ChannelValue("username", "User name", channel.username))
        if not values and channel.user_id:
            values.append(ChannelValue("user_id", "User ID", channel.user_id))
        lines.append(ChannelLine(channel.type, platform_label(channel.type, channel.email or ""), tuple(values)))
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class PrimaryChannel:
    """The one way to reach the contact that a phone's header shows: its platform and one value."""

    platform: str
    value: ChannelValue


def primary_channel(lines: tuple[ChannelLine, ...]) -> PrimaryChannel | None:
    """An e-mail address first, else a phone number, else the first value any channel has."""
    for kind in ("email", "phone", None):
        for line in lines:
            for value in line.values:
                if kind is None or value.kind == kind:
                    return PrimaryChannel(line.platform, value)
    return None


@dataclass(frozen=True, slots=True)
class Moment:
    """A time shown as a date, with the relative time and the exact time for hover and screen readers."""

    at: datetime
    date: str
    relative: str
    exact: str


def moment(at: datetime, *, tz: tzinfo, now: datetime) -> Moment:
    local, today = at.astimezone(tz), now.astimezone(tz)
    date = format_date(local, "j M" if local.year == today.year else "j M Y")
    return Moment(at=at, date=date, relative=relative_time(at, now), exact=exact_time(at, tz))


@dataclass(frozen=True, slots=True)
class StatusLine:
    kind: Literal["blocked", "unsubscribed"]
    label: str
    since: Moment | None
    reason: str = ""
    feedback: str = ""
    broadcast: str = ""
    performer: Performer | None = None


@dataclass(frozen=True, slots=True)
class SegmentLine:
    segment: Segment
    since: Moment | None


@dataclass(frozen=True, slots=True)
class ContactHeader:
    channels: tuple[ChannelLine, ...]
    statuses: tuple[StatusLine, ...]
    status_known: bool  # False: neither the contact nor its history says whether it is blocked or unsubscribed
    segments: tuple[SegmentLine, ...] | None  # None: not known
    from_events: bool  # Invent gave no contact record: the state is read from the activity history
    history_pending: bool = False  # the activity history's part (since when, by whom, why) follows in its own request

    @property
    def primary(self) -> PrimaryChannel | None:
        return primary_channel(self.channels)


def _status(
    kind: Literal["blocked", "unsubscribed"], since: datetime | None, event: Activity | None, *, tz: tzinfo,
    now: datetime, reason: str = "", feedback: str = "",
) -> StatusLine:  # fmt: skip
    if event is not None and not reason:
        reason = event.metadata_text("reason")
    performer = performer_of(event) if event is not None else None
    return StatusLine(
        kind=kind,
        label="Blocked" if kind == "blocked" else "Unsubscribed",
        since=moment(since, tz=tz, now=now) if since is not None else None,
        reason=reason_text(reason)[:500],
        feedback=feedback.strip()[:1000],
        broadcast=event.broadcast.name if event is not None and event.broadcast is not None else "",
        performer=performer if performer is not None and performer.kind != "system" else None,
    )


def build_header(
    contact: Contact | None, state: ContactState, *, tz: tzinfo, now: datetime, history_pending: bool = False
) -> ContactHeader:
    statuses = []
    if state.blocked:
        statuses.append(_status("blocked", state.blocked_since, state.block_event, tz=tz, now=now))
    if state.unsubscribed:
        statuses.append(
            _status(
                "unsubscribed",
                state.unsubscribed_since,
                state.unsubscribe_event,
                tz=tz,
                now=now,
                reason=state.unsubscribe_reason,
                feedback=state.unsubscribe_feedback,
            )
        )
    segments = None
    if state.segments is not None:
        segments = tuple(
            SegmentLine(m.segment, moment(m.since, tz=tz, now=now) if m.since else None) for m in state.segments
        )
    return ContactHeader(
        channels=channel_lines(contact) if contact is not None else (),
        statuses=tuple(statuses),
        status_known=state.blocked is not None and state.unsubscribed is not None,
        segments=segments,
        from_events=state.from_events,
        history_pending=history_pending,
    )
