"""Finding your place, the parts the page needs wherever it is rendered: the query parameters
(validated by forms.TimelineQueryForm), each card's permalink, and the top of the feed (the page
above, or the live check once the top is the newest activity).

A permalink is the timeline URL with the page's filters, the activity's id (`entry`) and its
time (`at`, UTC): the time is what finds the page (invent/locate.py) without reading every page
before it; the id is what is marked there. `#place` scrolls to it even without JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode

from timeline_site.invent.cursor import NewerCursor, encode_newer_cursor
from timeline_site.invent.newer import top_cursor
from timeline_site.invent.timeline import TimelinePage
from timeline_site.invent.types import Activity

if TYPE_CHECKING:
    from timeline_site.timeline.query import TimelineQuery

ENTRY_ID = re.compile(r"\A[A-Za-z0-9_-]{1,256}\Z")  # like org and contact ids, a little longer
PLACE_FRAGMENT = "place"  # the id of the card a link or a date opened at
PLACE_PARAMS = ("cursor", "newer", "at", "at_time")  # a link asks for at most one of these


def format_moment(moment: datetime) -> str:
    """An activity's time as a permalink carries it: UTC, ISO 8601, "Z" (nothing to percent-encode)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def moment_or_error(text: str) -> datetime | None:
    """`at`: a date and time with its zone, or a ValidationError; None when not given."""
    if not text:
        return None
    try:
        moment = parse_datetime(text)
    except ValueError:  # well formed, but no such day or hour
        moment = None
    if moment is None or moment.tzinfo is None:
        raise forms.ValidationError(
            "The time in this link is not a date and time with its zone, like 2026-03-14T10:22:33Z.", code="at"
        )
    return moment


def check_one_place(form: forms.Form, data: dict[str, Any]) -> dict[str, Any]:
    """An entry needs its time, and one link is one place: a paging position, the page above, a time or a day."""
    if data.get("entry") and not data.get("at") and "at" not in form.errors:
        form.add_error("entry", forms.ValidationError("A link to an activity needs its time (at=) too.", code="at"))
    asked = [name for name in PLACE_PARAMS if data.get(name)]
    if len(asked) > 1:
        raise forms.ValidationError(
            "This link asks for more than one place in the timeline (%(names)s): keep one.",
            code="places",
            params={"names": ", ".join(asked)},
        )
    return data


def permalinks(query: TimelineQuery) -> Callable[[Activity], str]:
    """Each card's link: the timeline at that activity, the page's filters kept."""
    path = query.base_url
    filters = urlencode(query.filter_params)
    prefix = f"{path}?{filters}&" if filters else f"{path}?"

    def link(activity: Activity) -> str:
        # Neither needs percent-encoding in a query string: an id of ENTRY_ID's characters, and a time in
        # ISO 8601 (digits, "-", ":", "T", "." and "Z"; RFC 3986 allows ":" in a query). An id Invent
        # writes with other characters still gets a link to its time (without the mark).
        at = format_moment(activity.created_at)
        mark = f"entry={activity.id}&" if ENTRY_ID.match(activity.id) else ""
        return f"{prefix}{mark}at={at}#{PLACE_FRAGMENT}"

    return link


@dataclass(frozen=True, slots=True)
class FeedTop:
    """What sits above the feed: the way to the page above, or (at the newest) the live check."""

    newest_url: str  # the newest page under these filters ("g", "Newest")
    newer_url: str | None = None  # the page above, while the top shown is not the newest
    live_url: str | None = None  # at the newest: where the page asks whether anything newer arrived
    lost: bool = False  # too much changed above: only "Go to the newest" is left
    # Asked for by itself as the reader nears the top; not after a page above that showed nothing (under
    # an actor filter), which would otherwise ask again and again on its own.
    prefetch: bool = True


def feed_top(
    query: TimelineQuery, cursor: NewerCursor, *, at_top: bool, lost: bool = False, prefetch: bool = True
) -> FeedTop:
    token = encode_newer_cursor(cursor)
    return FeedTop(
        newest_url=query.url("contact_timeline"),
        newer_url=None if at_top or lost else query.url("contact_timeline", newer=token),
        live_url=query.url("contact_live", newer=token) if at_top and not lost else None,
        lost=lost,
        prefetch=prefetch,
    )


def newest_page_top(query: TimelineQuery, page: TimelinePage) -> FeedTop:
    """Above the newest page: the live check, anchored at its top card."""
    return feed_top(query, top_cursor(page, types=query.types), at_top=True)
