"""The timeline page: the full page after one upstream round (streamed when Invent is slow), the next page
or the filtered timeline as htmx fragments, and the spans that follow a page once it is on screen."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap

from timeline_site.invent.contact_state import contact_state, state_from_record
from timeline_site.invent.errors import (
    InventError,
)
from timeline_site.invent.kinds import SPAN_TYPES
from timeline_site.invent.spans import activity_spans
from timeline_site.invent.timeline import PendingFirstView, TimelinePage, first_view, start_first_view, timeline_page
from timeline_site.invent.types import Contact, initials_of
from timeline_site.timeline.audit import known_name, record_reading
from timeline_site.timeline.forms import (
    TimelineQueryForm,
)
from timeline_site.timeline.fragments import cached_fragment, fragment_key, store_fragment
from timeline_site.timeline.last_visit import since_last_visit
from timeline_site.timeline.query import TimelineQuery
from timeline_site.timeline.streaming import stream_wait_seconds, streamed_page
from timeline_site.timeline.views import place
from timeline_site.timeline.views.common import (
    PAGE_TEMPLATE,
    HtmxHttpRequest,
    Problem,
    bad_request,
    contact_access,
    contact_header,
    contact_label,
    describe_failure,
    failure_page,
    history_inline,
    page_context,
    page_streams,
    timeline_context,
    validated,
    with_retry_after,
)

logger = logging.getLogger(__name__)


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_safe
@vary_on_headers("HX-Request")
@never_cache
@contact_access
def contact_timeline(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponseBase:
    if _wants_fragment(request):
        return _timeline_fragment(request, org_id, contact_id)
    query, form = validated(request, org_id, contact_id)
    if form.errors:
        return bad_request(request, query, form)
    if (placed := _placed(request, query, form)) is not None:
        return placed
    # No JavaScript (the page's <noscript> asks again with inline=1, and no-JS "Older activities"
    # links land here with a cursor): everything inline, in as many rounds as that takes.
    inline = query.cursor is not None or request.GET.get("inline") == "1"
    pending = start_first_view(org_id=org_id, contact_id=contact_id, types=query.types, cursor=query.cursor,
                               actors=query.actors)  # fmt: skip
    wait = None if inline or request.method == "HEAD" else stream_wait_seconds()
    try:
        page, contact = pending.result(timeout=wait)
    except TimeoutError:
        # Invent is slow: the frame now (status 200), the cards or the failure in the page when they come.
        name = known_name(org_id=org_id, contact_id=contact_id)
        frame = timeline_context(query, known_name=name, known_initials=initials_of(name) or "?")
        return streamed_page(request, template=PAGE_TEMPLATE, frame=frame,
                             body=lambda: _streamed_body(request, query, pending))  # fmt: skip
    except InventError as exc:
        return failure_page(request, query, exc)
    return render(request, PAGE_TEMPLATE, _first_view_context(request, query, page, contact, inline=inline))


def _first_view_context(
    request: HtmxHttpRequest, query: TimelineQuery, page: TimelinePage, contact: Contact | None, *, inline: bool
) -> dict[str, Any]:
    """A full page once its first round is in; without JavaScript (`inline`) with its spans and history."""
    org_id, contact_id = query.org_id, query.contact_id
    spans, state = None, state_from_record(contact)
    if inline:
        spans, state = history_inline(query, page, contact)
    context = page_context(query, page, spans=spans, spans_follow=not inline)
    context.update(contact=contact, header=contact_header(contact, state, history_pending=not inline), inline=inline)
    if query.cursor is None:  # the newest page: where the last visit ends (read before this one is recorded)
        context.update(since_last_visit(request, org_id=org_id, contact_id=contact_id, entries=context["entries"],
                                        more_below=page.next_cursor is not None))  # fmt: skip
    if request.method == "GET":  # a HEAD (a link checker) is nobody reading
        record_reading(request, org_id=org_id, contact_id=contact_id, contact=contact)
    return context


def _streamed_body(request: HtmxHttpRequest, query: TimelineQuery, pending: PendingFirstView) -> str:
    """The page body after a streamed frame: the page as it would have been, or the failure in words."""
    try:
        page, contact = pending.result()
    except InventError as exc:
        problem = describe_failure(exc)
        context = timeline_context(query, problem=problem, contact_label=contact_label(query), streamed=True)
        return render_to_string("timeline/error.html#problem", context, request)
    context = _first_view_context(request, query, page, contact, inline=False)
    return render_to_string(f"{PAGE_TEMPLATE}#page_body", context, request)


def _placed(
    request: HtmxHttpRequest, query: TimelineQuery, form: TimelineQueryForm, *, spans: bool = False
) -> HttpResponse | None:
    """Finding your place (views/place.py): the page at a link's or a day's place, the page above,
    or its spans; None when none of them was asked."""
    return (place.placed_spans if spans else place.placed_response)(request, query, form)


def _timeline_fragment(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponse:
    """The next page, appended to the feed (`#page`), or the timeline section under new filters (`#timeline`)."""
    partial = "filtered" if request.htmx.target == "timeline" else "page"  # filtered: #timeline and the bar
    query, form = validated(request, org_id, contact_id)
    if form.errors:
        return bad_request(request, query, form)
    if (placed := _placed(request, query, form)) is not None:  # the page above
        return placed
    if request.method == "GET":
        # Whatever the headers say, this shows the contact's timeline to somebody (one row per few minutes).
        record_reading(request, org_id=org_id, contact_id=contact_id, contact=None)
    # The same for every viewer of this org in this time zone: a repeat within the cache lifetime
    # is answered without reading or rendering again. Access was checked above.
    key = fragment_key(partial, org_id=org_id, contact_id=contact_id, types=query.types, cursor=query.cursor,
                       actors=query.actors)  # fmt: skip
    if (cached := cached_fragment(request, key)) is not None:
        return cached
    try:
        page = timeline_page(org_id=org_id, contact_id=contact_id, types=query.types, actors=query.actors,
                             cursor=query.cursor)  # fmt: skip
    except InventError as exc:
        return _pager_problem(request, describe_failure(exc), partial=partial)
    has_pairs = any(a.type in SPAN_TYPES for a in page.activities)
    context = page_context(query, page, spans={}, spans_follow=has_pairs)
    response = render(request, f"{PAGE_TEMPLATE}#{partial}", context)
    return response if page.stale else store_fragment(request, key, response)


def _pager_problem(request: HtmxHttpRequest, problem: Problem, *, partial: str) -> HttpResponse:
    """Only the pager changes: every card already on screen stays, and Retry asks again."""
    context = {
        "problem": problem,
        "retry_url": request.get_full_path(),
        "retry_target": "#timeline" if partial == "filtered" else "#timeline-feed",
        "retry_swap": "outerHTML" if partial == "filtered" else "beforeend",
        "retry_push": partial == "filtered",
    }
    response = render(request, f"{PAGE_TEMPLATE}#pager_error", context, status=problem.status)
    return with_retry_after(reswap(response, "none"), problem)


@require_safe
@vary_on_headers("HX-Request")
@never_cache
@contact_access
def contact_spans(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponse:
    """The spans of one page (the page its cursor names), swapped out of band into cards already on
    screen; for a first page also the header's state. Nothing here can fail the page: spans step aside."""
    query, form = validated(request, org_id, contact_id)
    if form.errors:
        return bad_request(request, query, form)
    if (placed := _placed(request, query, form, spans=True)) is not None:  # the spans of a page above
        return placed
    key = fragment_key("spans", org_id=org_id, contact_id=contact_id, types=query.types, cursor=query.cursor,
                       actors=query.actors)  # fmt: skip
    if (cached := cached_fragment(request, key)) is not None:
        return cached
    first = query.cursor is None
    try:
        # A first page also needs the contact record for its header: both in one round (usually cache hits).
        page, contact = first_view(org_id=org_id, contact_id=contact_id, types=query.types, actors=query.actors,
                                   cursor=query.cursor, with_contact=first)  # fmt: skip
    except InventError as exc:
        logger.info("No spans for %s/%s: %s", org_id, contact_id, type(exc).__name__)
        return HttpResponse(status=204)
    streams = page_streams(query, page)
    spans = activity_spans(org_id=org_id, contact_id=contact_id, activities=page.activities, streams=streams)
    context = page_context(query, page, spans=spans, spans_follow=False)
    if first:
        state = contact_state(org_id=org_id, contact_id=contact_id, contact=contact, streams=streams)
        context.update(contact=contact, header=contact_header(contact, state))
    response = reswap(render(request, f"{PAGE_TEMPLATE}#spans", context), "none")
    return response if page.stale or spans is None else store_fragment(request, key, response)
