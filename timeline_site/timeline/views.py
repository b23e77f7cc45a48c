"""The timeline feature's views: validate the request, check access, call one service function, render.

- `contact_timeline`: the full page, or (for htmx) the next page appended to the
  feed (`#page`) or the whole timeline section under new filters (`#timeline`).
- `contact_spans`: what needs more of Invent than the first round, asked by htmx
  once a page is on screen: how long each paired state lasted and, for a first
  page, the header's "since when, by whom, why".
- `contact_export`: the whole timeline as a CSV or JSON file, streamed as it is read.
- `index`: find a contact.
- `contact_lookup`: a CRM's link by e-mail, phone or name, on to the one contact's timeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap
from django_htmx.middleware import HtmxDetails

from timeline_site.invent.client import is_valid_path_part
from timeline_site.invent.contact_state import ContactState, contact_state, spans_and_state, state_from_record
from timeline_site.invent.contacts import search_contacts
from timeline_site.invent.cursor import Cursor, encode_cursor
from timeline_site.invent.errors import (
    InventAllowanceSpent,
    InventAuthError,
    InventError,
    InventNotFound,
    InventRateLimited,
)
from timeline_site.invent.export import start_export
from timeline_site.invent.kinds import KINDS, SPAN_TYPES
from timeline_site.invent.spans import activity_spans, streams_for_page
from timeline_site.invent.streams import StreamSet
from timeline_site.invent.timeline import PendingFirstView, TimelinePage, first_view, start_first_view, timeline_page
from timeline_site.invent.types import Contact, initials_of
from timeline_site.timeline.access import allowed_org_ids, can_view_org
from timeline_site.timeline.audit import known_name, record_export, record_reading
from timeline_site.timeline.contact_display import ContactHeader, build_header
from timeline_site.timeline.display import build_entries, exact_time, zone_label
from timeline_site.timeline.export_files import export_response
from timeline_site.timeline.filters import ACTOR_CHOICES, filters_in_words, sought_in_words
from timeline_site.timeline.find import (
    MIN_QUERY_LENGTH,
    contact_results,
    org_choices,
    parse_query,
    recently_viewed,
    remembered_org,
)
from timeline_site.timeline.forms import (
    ContactLookupForm,
    ContactSearchForm,
    TimelineExportForm,
    TimelineFilterForm,
    TimelineQueryForm,
)
from timeline_site.timeline.fragments import cached_fragment, fragment_key, store_fragment
from timeline_site.timeline.last_visit import since_last_visit
from timeline_site.timeline.lookup import LOOKUP_TAKE, Lookup, LookupResult, decide
from timeline_site.timeline.place_links import newest_page_top, permalinks
from timeline_site.timeline.streaming import stream_wait_seconds, streamed_page

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
        return Problem("This page needed too much of Invent", f"{error.message} Load it again.", 503)
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


@dataclass(frozen=True, slots=True)
class TimelineQuery:
    """A validated timeline request: whose timeline, which filter, from where."""

    org_id: str
    contact_id: str
    types: list[str]
    cursor: Cursor | None
    actors: tuple[str, ...] = ()  # who did it (`by`): empty for everyone

    @property
    def base_url(self) -> str:
        return reverse("contact_timeline", args=[self.org_id, self.contact_id])

    @property
    def filter_params(self) -> list[tuple[str, str]]:
        return [*(("type", t) for t in self.types), *(("by", a) for a in self.actors)]

    def url(self, name: str, *, cursor: Cursor | None = None, **extra: str) -> str:
        params = [*self.filter_params, *([("cursor", encode_cursor(cursor))] if cursor else []), *extra.items()]
        path = reverse(name, args=[self.org_id, self.contact_id])
        return f"{path}?{urlencode(params)}" if params else path


def _context(query: TimelineQuery, **more: Any) -> dict[str, Any]:
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


def _page_context(query: TimelineQuery, page: TimelinePage, *, spans: Any, spans_follow: bool) -> dict[str, Any]:
    """What every rendering of a page of cards needs; `spans` None with `spans_follow`: they come later."""
    return _context(
        query,
        page=page,
        entries=build_entries(
            page.activities, offset=page.offset, tz=timezone.get_current_timezone(), now=timezone.now(),
            previous=query.cursor.before if query.cursor else None, spans=spans if not spans_follow else None,
            link=permalinks(query),
        ),
        next_url=query.url("contact_timeline", cursor=page.next_cursor) if page.next_cursor else None,
        feed_top=newest_page_top(query, page) if query.cursor is None else None,  # the live check, at the newest
        spans_url=query.url("contact_spans", cursor=query.cursor) if spans_follow else None,
        spans_stepped_aside=spans is None and not spans_follow,
        is_first_page=query.cursor is None,
        sought=sought_in_words(query.types, query.actors),
        export_csv_url=query.url("contact_export", format="csv"),
        export_json_url=query.url("contact_export", format="json"),
        generated=exact_time(timezone.now(), timezone.get_current_timezone()),
    )  # fmt: skip


def _page_streams(query: TimelineQuery, page: TimelinePage) -> StreamSet:
    """The streams a page's spans read, seeded with the page itself when it was read from the top
    (not under an actor filter: then the page does not hold every activity of its types)."""
    return streams_for_page(
        org_id=query.org_id, contact_id=query.contact_id, activities=page.activities, types=query.types,
        from_top=query.cursor is None and not query.actors, complete=page.next_cursor is None,
    )  # fmt: skip


def _bad_request(request: HttpRequest, query: TimelineQuery, form: TimelineFilterForm) -> HttpResponse:
    errors = [str(e) for errors in form.errors.values() for e in errors]
    return render(request, "timeline/bad_request.html", _context(query, form_errors=errors), status=400)


def _validated(request: HttpRequest, org_id: str, contact_id: str) -> tuple[TimelineQuery, TimelineQueryForm]:
    form = TimelineQueryForm(request.GET)
    valid = form.is_valid()
    data = form.cleaned_data if valid else {}
    query = TimelineQuery(org_id, contact_id, list(data.get("type", [])), data.get("cursor"), tuple(data.get("by", [])))
    return query, form


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_safe
@vary_on_headers("HX-Request")
@never_cache
@contact_access
def contact_timeline(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponseBase:
    if _wants_fragment(request):
        return _timeline_fragment(request, org_id, contact_id)
    query, form = _validated(request, org_id, contact_id)
    if form.errors:
        return _bad_request(request, query, form)
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
        frame = _context(query, known_name=name, known_initials=initials_of(name) or "?")
        return streamed_page(request, template=PAGE_TEMPLATE, frame=frame,
                             body=lambda: _streamed_body(request, query, pending))  # fmt: skip
    except InventError as exc:
        return _first_view_failed(request, query, exc)
    return render(request, PAGE_TEMPLATE, _first_view_context(request, query, page, contact, inline=inline))


def _first_view_context(
    request: HtmxHttpRequest, query: TimelineQuery, page: TimelinePage, contact: Contact | None, *, inline: bool
) -> dict[str, Any]:
    """A full page once its first round is in; without JavaScript (`inline`) with its spans and history."""
    org_id, contact_id = query.org_id, query.contact_id
    spans, state = None, state_from_record(contact)
    if inline:
        spans, state = spans_and_state(org_id=org_id, contact_id=contact_id, activities=page.activities,
                                       contact=contact, streams=_page_streams(query, page))  # fmt: skip
    context = _page_context(query, page, spans=spans, spans_follow=not inline)
    context.update(contact=contact, header=_header(contact, state, history_pending=not inline), inline=inline)
    if query.cursor is None:  # the newest page: where the last visit ends (read before this one is recorded)
        context.update(since_last_visit(request, org_id=org_id, contact_id=contact_id, entries=context["entries"],
                                        more_below=page.next_cursor is not None))  # fmt: skip
    if request.method == "GET":  # a HEAD (a link checker) is nobody reading
        record_reading(request, org_id=org_id, contact_id=contact_id, contact=contact)
    return context


def _first_view_failed(request: HtmxHttpRequest, query: TimelineQuery, error: InventError) -> HttpResponse:
    problem = describe_failure(error)
    context = _context(query, problem=problem, contact_label=_contact_label(query))
    response = render(request, "timeline/error.html", context, status=problem.status)
    return with_retry_after(response, problem)


def _contact_label(query: TimelineQuery) -> str:
    return known_name(org_id=query.org_id, contact_id=query.contact_id) or query.contact_id


def _streamed_body(request: HtmxHttpRequest, query: TimelineQuery, pending: PendingFirstView) -> str:
    """The page body after a streamed frame: the page as it would have been, or the failure in words."""
    try:
        page, contact = pending.result()
    except InventError as exc:
        problem = describe_failure(exc)
        context = _context(query, problem=problem, contact_label=_contact_label(query), streamed=True)
        return render_to_string("timeline/error.html#problem", context, request)
    context = _first_view_context(request, query, page, contact, inline=False)
    return render_to_string(f"{PAGE_TEMPLATE}#page_body", context, request)


def _placed(
    request: HtmxHttpRequest, query: TimelineQuery, form: TimelineQueryForm, *, spans: bool = False
) -> HttpResponse | None:
    """Finding your place (timeline/place_views.py, which builds on this module, hence imported here): the
    page at a link's or a day's place, the page above, or its spans; None when none of them was asked."""
    from timeline_site.timeline import place_views

    return (place_views.placed_spans if spans else place_views.placed_response)(request, query, form)


def _header(contact: Contact | None, state: ContactState, *, history_pending: bool = False) -> ContactHeader:
    return build_header(
        contact, state, tz=timezone.get_current_timezone(), now=timezone.now(), history_pending=history_pending
    )


def _timeline_fragment(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponse:
    """The next page, appended to the feed (`#page`), or the timeline section under new filters (`#timeline`)."""
    partial = "filtered" if request.htmx.target == "timeline" else "page"  # filtered: #timeline and the bar
    query, form = _validated(request, org_id, contact_id)
    if form.errors:
        return _bad_request(request, query, form)
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
    context = _page_context(query, page, spans={}, spans_follow=has_pairs)
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
    query, form = _validated(request, org_id, contact_id)
    if form.errors:
        return _bad_request(request, query, form)
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
    streams = _page_streams(query, page)
    spans = activity_spans(org_id=org_id, contact_id=contact_id, activities=page.activities, streams=streams)
    context = _page_context(query, page, spans=spans, spans_follow=False)
    if first:
        state = contact_state(org_id=org_id, contact_id=contact_id, contact=contact, streams=streams)
        context.update(contact=contact, header=_header(contact, state))
    response = reswap(render(request, f"{PAGE_TEMPLATE}#spans", context), "none")
    return response if page.stale or spans is None else store_fragment(request, key, response)


@require_safe
@never_cache
@contact_access
def contact_export(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponseBase:
    """The whole timeline under the page's filters, as a CSV or JSON file streamed while it is read.
    Its first page is read before answering, so a failure there is an error page, not a broken file."""
    form = TimelineExportForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    query = TimelineQuery(org_id, contact_id, list(data.get("type", [])), None, tuple(data.get("by", [])))
    if form.errors:
        return _bad_request(request, query, form)
    now = timezone.now()
    filename = f"{contact_id}-timeline-{timezone.localdate(now):%Y-%m-%d}.{data['format']}"
    filters = {"type": query.types, "by": list(query.actors)}
    if request.method == "HEAD":  # a link checker: the headers alone, and nobody took a copy
        return export_response(None, file_format=data["format"], filename=filename, filters=filters, exported_at=now)
    try:
        export = start_export(org_id=org_id, contact_id=contact_id, types=query.types, actors=query.actors)
    except InventError as exc:
        problem = describe_failure(exc)
        response = render(request, "timeline/error.html", _context(query, problem=problem), status=problem.status)
        return with_retry_after(response, problem)
    record_export(request, org_id=org_id, contact_id=contact_id)
    return export_response(export, file_format=data["format"], filename=filename, filters=filters, exported_at=now)


FIND_ORG_SESSION_KEY = "find_org"
SEARCH_RESULTS = 20


def search_failure(error: InventError, *, org_id: str) -> Problem:
    if isinstance(error, InventNotFound):
        return Problem("Organisation not found", f"Invent has no organisation “{org_id}”. Check its ID.", 404)
    return describe_failure(error)


@require_safe
@vary_on_headers("HX-Request")
@never_cache
def index(request: HtmxHttpRequest) -> HttpResponse:
    """Find a contact: the whole page, or only its results for htmx's search-as-you-type."""
    orgs = org_choices(request.user)
    org_ids = allowed_org_ids(request.user)  # None: a superuser, who may type any org
    data = request.GET.copy()
    asked_org = bool(data.get("org"))
    if not asked_org:
        data["org"] = remembered_org(request.session.get(FIND_ORG_SESSION_KEY), orgs, any_org=org_ids is None)
    form = ContactSearchForm(data, org_ids=org_ids)
    valid = form.is_valid()
    if asked_org and form.has_error("org") and org_ids is not None:
        raise Http404("No such organisation")  # a denied org looks exactly like an unknown one

    org_id: str = form.cleaned_data["org"] if valid else ""
    query = parse_query(form.cleaned_data["q"]) if valid else None
    context: dict[str, object] = {
        "orgs": orgs,
        "any_org": org_ids is None,
        "selected_org": org_id or data.get("org", ""),
        "org_label": next((o.label for o in orgs if o.id == org_id), org_id),
        "query_text": data.get("q", "")[:200],
        "query": query,
        "errors": [str(e) for errors in form.errors.values() for e in errors] if asked_org or data.get("q") else [],
    }
    if valid and request.session.get(FIND_ORG_SESSION_KEY) != org_id:
        request.session[FIND_ORG_SESSION_KEY] = org_id

    problem = None
    if query is not None and len(query.text) >= MIN_QUERY_LENGTH:
        try:
            found = search_contacts(org_id=org_id, filters=query.filters, take=SEARCH_RESULTS)
        except InventError as exc:
            problem = search_failure(exc, org_id=org_id)
            context["problem"] = problem
        else:
            context.update(
                results=contact_results(org_id, found.items),
                total=found.total,
                more=found.has_more or (found.total or 0) > len(found.items),
            )
    else:
        context["too_short"] = query is not None

    if request.htmx and not request.htmx.history_restore_request:
        template = "timeline/index.html#results"
    else:
        template = "timeline/index.html"
        context["recent"] = recently_viewed(
            request.user, orgs=orgs, tz=timezone.get_current_timezone(), now=timezone.now()
        )
    response = render(request, template, context, status=problem.status if problem else 200)
    return with_retry_after(response, problem)


@require_safe
@never_cache
def contact_lookup(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """A CRM's link by e-mail, phone or name: exactly one contact opens its timeline (302, with the
    link's filters); none or several show the find page saying so."""
    if not (is_valid_path_part(org_id) and can_view_org(request.user, org_id)):
        raise Http404("No such organisation")  # a denied org looks exactly like an unknown one
    if request.session.get(FIND_ORG_SESSION_KEY) != org_id:
        request.session[FIND_ORG_SESSION_KEY] = org_id  # "Find another contact" looks in the same org
    form = ContactLookupForm(request.GET, region=settings.TIMELINE_PHONE_REGION)
    if not form.is_valid():
        return _lookup_page(request, org_id, form)
    asked: Lookup = form.cleaned_data["lookup"]
    try:
        found = search_contacts(org_id=org_id, filters=asked.search.filters, take=LOOKUP_TAKE)
    except InventError as exc:
        return _lookup_page(request, org_id, form, problem=search_failure(exc, org_id=org_id))
    complete = not found.has_more and (found.total is None or found.total <= len(found.items))
    result = decide(asked, found.items, complete=complete, region=settings.TIMELINE_PHONE_REGION)
    contact = result.contact
    if contact is None or not is_valid_path_part(contact.id):
        return _lookup_page(request, org_id, form, result=result)
    if request.method == "GET":  # a HEAD (a link checker) is nobody reading
        record_reading(request, org_id=org_id, contact_id=contact.id, contact=contact)
    params = form.timeline_params()
    url = reverse("contact_timeline", args=[org_id, contact.id])
    return redirect(f"{url}?{urlencode(params)}" if params else url)


def _lookup_page(
    request: HtmxHttpRequest, org_id: str, form: ContactLookupForm, *,
    problem: Problem | None = None, result: LookupResult | None = None,
) -> HttpResponse:  # fmt: skip
    """The find page for a lookup that opened no timeline: what the link asked for in the search box, and why."""
    orgs = org_choices(request.user)
    asked: Lookup | None = form.cleaned_data.get("lookup") if form.is_bound and not form.errors else None
    errors = [str(e) for errors in form.errors.values() for e in errors]
    context: dict[str, object] = {
        "orgs": orgs,
        "any_org": allowed_org_ids(request.user) is None,
        "selected_org": org_id,
        "org_label": next((o.label for o in orgs if o.id == org_id), org_id),
        "query_text": (asked.search.text if asked else form.given())[:200],
        "query": asked.search if asked else None,
        "errors": errors,
        "problem": problem,
        "lookup": result,
    }
    if result is not None:
        context["results"] = contact_results(org_id, result.listed)
    status = 400 if errors else problem.status if problem else 200
    return with_retry_after(render(request, "timeline/index.html", context, status=status), problem)
