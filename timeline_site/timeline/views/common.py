"""What the timeline's views share: the request type, upstream failures in words (the one place
they are mapped), the access check, the validated query and the context every page of cards needs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django_htmx.middleware import HtmxDetails

from timeline_site.invent.client import is_valid_path_part
from timeline_site.invent.contact_state import ContactState, spans_and_state
from timeline_site.invent.errors import (
    InventAllowanceSpent,
    InventAuthError,
    InventError,
    InventNotFound,
    InventRateLimited,
)
from timeline_site.invent.kinds import KINDS
from timeline_site.invent.pairing import ActivitySpan
from timeline_site.invent.spans import streams_for_page
from timeline_site.invent.streams import StreamSet
from timeline_site.invent.timeline import TimelinePage
from timeline_site.invent.types import Contact
from timeline_site.timeline.access import can_view_org
from timeline_site.timeline.audit import known_name
from timeline_site.timeline.contact_display import ContactHeader, build_header
from timeline_site.timeline.display import build_entries, exact_time, zone_label
from timeline_site.timeline.filters import ACTOR_CHOICES, filters_in_words, sought_in_words
from timeline_site.timeline.forms import (
    TimelineFilterForm,
    TimelineQueryForm,
)
from timeline_site.timeline.place_links import newest_page_top, permalinks
from timeline_site.timeline.query import TimelineQuery

logger = logging.getLogger(__name__)


PAGE_TEMPLATE = "timeline/timeline.html"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@dataclass(frozen=True, slots=True)
class Problem:
    """An upstream failure, as staff should read it."""

    title: str
    detail: str
    status: int
    retry_after: int | None = None


def describe_failure(error: InventError) -> Problem:
    """Every upstream failure a page can meet, in words for staff: the one place they are mapped."""
    if isinstance(error, InventNotFound):
        return Problem("Contact not found", "Invent has no contact with this ID in this organisation. "
                       "Check the link, or find the contact by e-mail or name.", 404)  # fmt: skip
    if isinstance(error, InventAuthError):
        return Problem("The dashboard cannot sign in to Invent", "Invent refused the dashboard's API key. "
                       "This is a configuration problem: tell your administrator.", 502)  # fmt: skip
    if isinstance(error, InventAllowanceSpent) and error.retry_after is None:
        # This request's own cap on upstream calls, not Invent: loading it again is fine.
        return Problem("This page needed too much of Invent", error.message, 503)
    if isinstance(error, InventRateLimited):
        wait = error.retry_after
        when = f"in {wait} second{'s' if wait != 1 else ''}" if wait else "in a minute"
        return Problem("Invent is busy", f"{error.message} Try again {when}.", 503, retry_after=wait or 60)
    return Problem("Invent is not answering", f"{error.message} Try again in a moment.", 502)


def with_retry_after(response: HttpResponse, problem: Problem | None) -> HttpResponse:
    if problem is not None and problem.retry_after:
        response["Retry-After"] = str(problem.retry_after)
    return response


ContactView = Callable[..., HttpResponseBase]


def contact_access(view: ContactView) -> ContactView:
    """IDs are checked before they go near Invent, and a denied org looks exactly like an unknown one."""

    @wraps(view)
    def checked(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponseBase:
        if not (is_valid_path_part(org_id) and is_valid_path_part(contact_id)):
            raise Http404("No such contact")
        if not can_view_org(request.user, org_id):
            raise Http404("No such contact")
        return view(request, org_id, contact_id)

    return checked


def timeline_context(query: TimelineQuery, **more: Any) -> dict[str, Any]:
    return {
        "org_id": query.org_id,
        "contact_id": query.contact_id,
        "type_choices": [(kind.value, kind.label) for kind in KINDS.values()],
        "selected_types": query.types,
        "actor_choices": ACTOR_CHOICES,
        "selected_actors": query.actors,
        "filtered": bool(query.types or query.actors),
        "filters_in_words": filters_in_words(query.types, query.actors),
        "filter_count": len(query.types) + len(query.actors),
        "zone_label": zone_label(timezone.get_current_timezone(), timezone.now()),
        "base_url": query.base_url,
        **more,
    }


def page_context(query: TimelineQuery, page: TimelinePage, *, spans: Any, spans_follow: bool) -> dict[str, Any]:
    """What every rendering of a page of cards needs; `spans` None with `spans_follow`: they come later."""
    return timeline_context(
        query,
        page=page,
        entries=build_entries(
            page.activities, offset=page.offset, tz=timezone.get_current_timezone(), now=timezone.now(),
            previous=query.cursor.before if query.cursor else None, spans=spans if not spans_follow else None,
            link=permalinks(query),
        ),
        next_url=query.url("contact_timeline", cursor=page.next_cursor) if page.next_cursor else None,
        spans_url=query.url("contact_spans", cursor=query.cursor) if spans_follow else None,
        spans_stepped_aside=spans is None and not spans_follow,
        is_first_page=query.cursor is None,
        sought=sought_in_words(query.types, query.actors),
        # What only a whole timeline shows (not a page appended to one) is worked out when the template shows
        # it, so an appended page signs no cursor and writes no link it leaves out: the top of the feed (the
        # live check, at the newest page) once however often it is read, the export links as callables
        # (a Django template calls them).
        feed_top=SimpleLazyObject(partial(newest_page_top, query, page)) if query.cursor is None else None,
        export_csv_url=partial(query.url, "contact_export", format="csv"),
        export_json_url=partial(query.url, "contact_export", format="json"),
        generated=exact_time(timezone.now(), timezone.get_current_timezone()),
    )  # fmt: skip


def page_streams(query: TimelineQuery, page: TimelinePage, *, from_top: bool | None = None) -> StreamSet:
    """The streams a page's spans read, seeded with the page itself when it was read from the top
    (not under an actor filter: then the page does not hold every activity of its types)."""
    if from_top is None:
        from_top = query.cursor is None
    return streams_for_page(
        org_id=query.org_id, contact_id=query.contact_id, activities=page.activities, types=query.types,
        from_top=from_top and not query.actors, complete=page.next_cursor is None,
    )  # fmt: skip


def history_inline(
    query: TimelineQuery, page: TimelinePage, contact: Contact | None, *, from_top: bool | None = None
) -> tuple[dict[str, ActivitySpan] | None, ContactState]:
    """A page's spans and the header's state worked out in this request: pages without JavaScript."""
    return spans_and_state(
        org_id=query.org_id, contact_id=query.contact_id, activities=page.activities, contact=contact,
        streams=page_streams(query, page, from_top=from_top),
    )  # fmt: skip


def bad_request(request: HttpRequest, query: TimelineQuery, form: TimelineFilterForm) -> HttpResponse:
    errors = [str(e) for errors in form.errors.values() for e in errors]
    return render(request, "timeline/bad_request.html", timeline_context(query, form_errors=errors), status=400)


def validated(request: HttpRequest, org_id: str, contact_id: str) -> tuple[TimelineQuery, TimelineQueryForm]:
    form = TimelineQueryForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    query = TimelineQuery(org_id, contact_id, list(data.get("type", [])), data.get("cursor"), tuple(data.get("by", [])))
    return query, form


def contact_header(contact: Contact | None, state: ContactState, *, history_pending: bool = False) -> ContactHeader:
    return build_header(
        contact, state, tz=timezone.get_current_timezone(), now=timezone.now(), history_pending=history_pending
    )


def contact_label(query: TimelineQuery) -> str:
    """The contact's name from an earlier reading, else its id: for pages that have no contact record."""
    return known_name(org_id=query.org_id, contact_id=query.contact_id) or query.contact_id


def failure_page(request: HttpRequest, query: TimelineQuery, error: InventError) -> HttpResponse:
    """A full page for a failure before anything of the timeline could be shown."""
    problem = describe_failure(error)
    context = timeline_context(query, problem=problem, contact_label=contact_label(query))
    response = render(request, "timeline/error.html", context, status=problem.status)
    return with_retry_after(response, problem)
