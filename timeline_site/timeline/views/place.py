"""Finding your place: the timeline opened at an activity or a day, the pages above, and the live check.

- `placed_response` (from views.contact_timeline): a permalink's page (`?entry=&at=`), a moment's
  (`?at=`) or a day's ("Go to date", `?at_time=`); or the page above (`?newer=`), inserted above
  the feed by htmx or, without JavaScript, a page of its own.
- `placed_spans` (from views.contact_spans): the spans of a page above.
- `contact_live`: how many activities are newer than the top card, asked every 30 s by
  static/js/timeline.js while the newest page is open and the tab is visible.

Like every view here: validate (TimelineQueryForm), check access (views.contact_access), call one
service function (invent.locate, invent.newer), render.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_htmx.http import reswap

from timeline_site.invent.contact_state import state_from_record
from timeline_site.invent.cursor import NewerCursor, encode_newer_cursor
from timeline_site.invent.errors import InventError
from timeline_site.invent.kinds import SPAN_TYPES
from timeline_site.invent.locate import LocatedPage, Place, located_view
from timeline_site.invent.newer import NewerPage, live_news, newer_page, newer_view
from timeline_site.invent.spans import activity_spans
from timeline_site.invent.timeline import TimelinePage
from timeline_site.timeline.audit import record_reading
from timeline_site.timeline.display import Entry, build_entries
from timeline_site.timeline.forms import LiveCheckForm, TimelineQueryForm
from timeline_site.timeline.fragments import cached_fragment, fragment_key, store_fragment
from timeline_site.timeline.place_links import feed_top, permalinks
from timeline_site.timeline.query import TimelineQuery
from timeline_site.timeline.views.common import (
    PAGE_TEMPLATE,
    HtmxHttpRequest,
    bad_request,
    contact_access,
    contact_header,
    describe_failure,
    failure_page,
    history_inline,
    page_context,
    with_retry_after,
)

logger = logging.getLogger(__name__)

PLACE_TEMPLATE = "timeline/place.html"
LIVE_STOP = 286  # "stop polling", as htmx reads it too


def placed_response(request: HtmxHttpRequest, query: TimelineQuery, form: TimelineQueryForm) -> HttpResponse | None:
    """The response when the request asks for a place (a time, a day, or the page above); None otherwise."""
    data = form.cleaned_data
    fragment = bool(request.htmx) and not request.htmx.history_restore_request
    if (newer := data.get("newer")) is not None:
        return _newer_fragment(request, query, newer) if fragment else _newer_as_page(request, query, newer)
    if not fragment and (data.get("at") is not None or data.get("at_time") is not None):
        return _located(request, query, data)
    return None


def _place_of(data: dict[str, Any], tz: tzinfo) -> tuple[Place, date | None]:
    day: date | None = data.get("at_time")
    if day is not None:  # the newest activity on or before that day, in the reader's own zone
        try:
            next_day = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), tz)
            end = next_day - timedelta(microseconds=1)
        except OverflowError:  # 31 December 9999: nothing can be after it
            end = datetime.max.replace(tzinfo=UTC)
        return Place(moment=end), day
    return Place(moment=data["at"], entry_id=data.get("entry") or None), None


def _located(request: HtmxHttpRequest, query: TimelineQuery, data: dict[str, Any]) -> HttpResponse:
    tz, inline = timezone.get_current_timezone(), request.GET.get("inline") == "1"
    place, day = _place_of(data, tz)
    try:
        located, contact = located_view(org_id=query.org_id, contact_id=query.contact_id, types=query.types,
                                        actors=query.actors, place=place)  # fmt: skip
    except InventError as exc:
        return failure_page(request, query, exc)
    page, spans, state = located.page, None, state_from_record(contact)
    if inline:  # no JavaScript: the spans come with the page
        spans, state = history_inline(query, page, contact, from_top=False)
    # Nothing is above this page on screen (previous day: none), and its spans are asked with its own cursor.
    context = page_context(replace(query, cursor=None), page, spans=spans, spans_follow=not inline)
    entries, notice = _mark_place(context["entries"], located, place, day, tz=tz, filtered=context["filtered"])
    context.update(
        entries=entries, place_notice=notice, is_first_page=located.cursor is None, contact=contact, inline=inline,
        header=contact_header(contact, state, history_pending=not inline), at_time=day,
        spans_url=query.url("contact_spans", cursor=located.cursor) if not inline else None,
        feed_top=feed_top(query, located.newer, at_top=located.at_top),
    )  # fmt: skip
    if request.method == "GET":
        record_reading(request, org_id=query.org_id, contact_id=query.contact_id, contact=contact)
    return render(request, PAGE_TEMPLATE, context)


def _mark_place(
    entries: list[Entry], located: LocatedPage, place: Place, day: date | None, *, tz: tzinfo, filtered: bool
) -> tuple[list[Entry], str]:
    """The cards with the place marked (the entry, else the newest at or before the moment) and what is
    said about it: on the card, or above the feed (the returned notice) when there is no card to say it on."""
    marked = list(entries)
    if not located.located:
        notice = ("That place could not be found quickly in a timeline filtered on this many types, so this is "
                  "the newest activity. Choose fewer types to go straight to it.")  # fmt: skip
        index = next((i for i, e in enumerate(marked) if e.activity.id == place.entry_id), None)
        if index is not None:
            marked[index] = replace(marked[index], place="current")
        return marked, notice
    if not marked:
        when = f"on or before {_day_words(day)}" if day else "at or before that time"
        return marked, f"No {'matching ' if filtered else ''}activity {when}: newer activity is above."
    if place.entry_id and located.entry_found:
        index = next(i for i, e in enumerate(marked) if e.activity.id == place.entry_id)
        marked[index] = replace(marked[index], place="current")
    elif place.entry_id:
        note = "This activity is no longer in the timeline (it may have been deleted): this is where it was."
        marked[0] = replace(marked[0], place="near", place_note=note)
    else:
        note = ""
        if day is not None and marked[0].activity.created_at.astimezone(tz).date() != day:
            note = f"Nothing on {_day_words(day)}: this is the newest activity before it."
        marked[0] = replace(marked[0], place="current", place_note=note)
    return marked, ""


def _day_words(day: date | None) -> str:
    return format_date(day, "l j F Y") if day else ""


def _newer_entries(query: TimelineQuery, above: NewerPage, spans: Any) -> list[Entry]:
    return build_entries(
        above.activities, offset=above.offset, tz=timezone.get_current_timezone(), now=timezone.now(), previous=None,
        spans=spans, link=permalinks(query), keyed=True,
    )  # fmt: skip


def _newer_fragment(request: HtmxHttpRequest, query: TimelineQuery, cursor: NewerCursor) -> HttpResponse:
    """The page above, inserted at the top of the feed; the feed's top (next page above, or the live
    check) out of band. A failure changes only the feed's top: Retry asks again."""
    if request.method == "GET":
        record_reading(request, org_id=query.org_id, contact_id=query.contact_id, contact=None)
    key = fragment_key("newer", org_id=query.org_id, contact_id=query.contact_id, types=query.types,
                       cursor=cursor, actors=query.actors)  # fmt: skip
    if (cached := cached_fragment(request, key)) is not None:
        return cached
    try:
        above = newer_page(org_id=query.org_id, contact_id=query.contact_id, types=query.types, actors=query.actors,
                           cursor=cursor)  # fmt: skip
    except InventError as exc:
        problem = describe_failure(exc)
        context = {"problem": problem, "retry_url": request.get_full_path(),
                   "newest_url": query.url("contact_timeline")}  # fmt: skip
        response = render(request, f"{PLACE_TEMPLATE}#newer_error", context, status=problem.status)
        return with_retry_after(reswap(response, "none"), problem)
    pairs = any(a.type in SPAN_TYPES for a in above.activities)
    spans_url = query.url("contact_spans", newer=encode_newer_cursor(cursor)) if pairs else None
    context = {
        "entries": _newer_entries(query, above, None if pairs else {}),
        "set_size": above.total,
        "skipped": above.skipped,
        "feed_top": feed_top(
            query,
            above.newer,
            at_top=above.at_top,
            lost=above.lost,
            prefetch=bool(above.activities) or not query.actors,
        ),
        "spans_url": spans_url,
    }
    response = render(request, f"{PLACE_TEMPLATE}#newer_page", context)
    return response if above.stale or above.lost else store_fragment(request, key, response)


def _newer_as_page(request: HtmxHttpRequest, query: TimelineQuery, cursor: NewerCursor) -> HttpResponse:
    """Without JavaScript, "Newer activities" opens the page above as a page of its own (spans inline),
    with its own "Newer activities" above and "Older activities" below."""
    try:
        above, contact = newer_view(org_id=query.org_id, contact_id=query.contact_id, types=query.types,
                                    actors=query.actors, cursor=cursor)  # fmt: skip
    except InventError as exc:
        return failure_page(request, query, exc)
    page = TimelinePage(activities=above.activities, next_cursor=above.older, total=above.total,
                        offset=above.offset, skipped=above.skipped, stale=above.stale)  # fmt: skip
    spans, state = history_inline(query, page, contact, from_top=False)
    context = page_context(replace(query, cursor=None), page, spans=spans, spans_follow=False)
    context.update(
        contact=contact, header=contact_header(contact, state), inline=True, is_first_page=False,
        feed_top=feed_top(query, above.newer, at_top=above.at_top, lost=above.lost),
    )  # fmt: skip
    if request.method == "GET":
        record_reading(request, org_id=query.org_id, contact_id=query.contact_id, contact=contact)
    return render(request, PAGE_TEMPLATE, context)


def placed_spans(request: HtmxHttpRequest, query: TimelineQuery, form: TimelineQueryForm) -> HttpResponse | None:
    """The spans of a page above (its `newer` cursor names it), swapped into its cards; None otherwise."""
    cursor: NewerCursor | None = form.cleaned_data.get("newer")
    if cursor is None:
        return None
    key = fragment_key("spans newer", org_id=query.org_id, contact_id=query.contact_id, types=query.types,
                       cursor=cursor, actors=query.actors)  # fmt: skip
    if (cached := cached_fragment(request, key)) is not None:
        return cached
    try:
        above = newer_page(org_id=query.org_id, contact_id=query.contact_id, types=query.types, actors=query.actors,
                           cursor=cursor)  # fmt: skip
    except InventError as exc:
        logger.info("No spans for a page above in %s/%s: %s", query.org_id, query.contact_id, type(exc).__name__)
        return HttpResponse(status=204)
    spans = activity_spans(org_id=query.org_id, contact_id=query.contact_id, activities=above.activities)
    context = {"entries": _newer_entries(query, above, spans or {}), "header": None}
    response = reswap(render(request, f"{PAGE_TEMPLATE}#spans", context), "none")
    return response if above.stale or spans is None else store_fragment(request, key, response)


@require_safe
@never_cache
@contact_access
def contact_live(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponse:
    """Anything newer than the top card? The notice's content ("3 new activities"), 204 when the reader
    already sees that count, and LIVE_STOP (nothing swapped) when the shared budget is low."""
    form = LiveCheckForm(request.GET)
    query = TimelineQuery(org_id, contact_id, [], None)
    if not form.is_valid():
        return bad_request(request, query, form)
    data = form.cleaned_data
    query = TimelineQuery(org_id, contact_id, list(data["type"]), None, tuple(data["by"]))
    try:
        news = live_news(org_id=org_id, contact_id=contact_id, types=query.types, actors=query.actors,
                         cursor=data["newer"])  # fmt: skip
    except InventError as exc:
        logger.info("No live check for %s/%s: %s", org_id, contact_id, type(exc).__name__)
        return HttpResponse(status=204)  # ask again next time
    if news is None:
        return reswap(HttpResponse(status=LIVE_STOP), "none")
    if news.count == (data.get("seen") or 0):
        return HttpResponse(status=204)  # the reader already sees this: nothing to announce again
    context = {
        "count": news.count,
        "exact": news.exact,
        "show_url": query.url("contact_timeline", newer=encode_newer_cursor(news.cursor)),
    }
    return render(request, f"{PLACE_TEMPLATE}#live_news", context)
