from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap
from django_htmx.middleware import HtmxDetails

from timeline_site.invent.client import is_valid_path_part
from timeline_site.invent.contacts import search_contacts, timeline_with_contact
from timeline_site.invent.errors import (
    InventAuthError,
    InventError,
    InventNotFound,
    InventRateLimited,
)
from timeline_site.invent.spans import SPAN_TYPES, activity_spans, spans_and_state
from timeline_site.invent.timeline import timeline_page
from timeline_site.timeline.access import allowed_org_ids, can_view_org
from timeline_site.timeline.contact_display import build_header
from timeline_site.timeline.display import build_entries
from timeline_site.timeline.find import (
    MIN_QUERY_LENGTH,
    contact_results,
    org_choices,
    parse_query,
    recently_viewed,
    remembered_org,
)
from timeline_site.timeline.forms import TYPE_LABELS, ContactSearchForm, TimelineQueryForm, cursor_params
from timeline_site.timeline.fragments import cached_fragment, fragment_key, store_fragment
from timeline_site.timeline.models import TimelineView

logger = logging.getLogger(__name__)


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
    if isinstance(error, InventNotFound):
        return Problem("Contact not found", "Invent has no contact with this ID in this organisation. "
                       "Check the link, or find the contact by e-mail or name.", 404)  # fmt: skip
    if isinstance(error, InventAuthError):
        return Problem("The dashboard cannot sign in to Invent", "Invent refused the dashboard's API key. "
                       "This is a configuration problem: tell your administrator.", 502)  # fmt: skip
    if isinstance(error, InventRateLimited):
        wait = error.retry_after
        when = f"in {wait} second{'s' if wait != 1 else ''}" if wait else "in a minute"
        return Problem("Invent is busy", f"Too many requests were sent to Invent just now. Try again {when}.",
                       503, retry_after=wait or 60)  # fmt: skip
    return Problem("Invent is not answering", f"{error.message} Try again in a moment.", 502)


def _with_retry_after(response: HttpResponse, problem: Problem) -> HttpResponse:
    if problem.retry_after:
        response["Retry-After"] = str(problem.retry_after)
    return response


def with_param(url: str, param: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{param}"


@require_safe
@vary_on_headers("HX-Request")
@never_cache
def contact_timeline(request: HtmxHttpRequest, org_id: str, contact_id: str) -> HttpResponse:
    if not (is_valid_path_part(org_id) and is_valid_path_part(contact_id)):
        raise Http404("No such contact")
    if not can_view_org(request.user, org_id):
        raise Http404("No such contact")  # a denied org looks exactly like an unknown one

    # htmx asks either for the next page (appended to the feed) or, when the
    # filters change, for the whole timeline section; history restores and
    # requests without JavaScript get the full page.
    fragment = bool(request.htmx) and not request.htmx.history_restore_request
    partial = "timeline" if fragment and request.htmx.target == "timeline" else "page"
    # A fragment is the same for every viewer of this org in this time zone: a
    # repeat within the cache lifetime is answered without reading or rendering
    # again. Only fragments of valid queries are ever stored.
    cache_key = fragment_key(request, partial)
    if fragment and (cached := cached_fragment(request, cache_key)) is not None:
        return cached
    form = TimelineQueryForm(request.GET)
    base_url = reverse("contact_timeline", args=[org_id, contact_id])
    context: dict[str, object] = {
        "org_id": org_id,
        "contact_id": contact_id,
        "type_labels": TYPE_LABELS,
        "base_url": base_url,
    }
    if not form.is_valid():
        context["form_errors"] = [str(e) for errors in form.errors.values() for e in errors]
        return render(request, "timeline/bad_request.html", context, status=400)

    types: list[str] = form.cleaned_data["type"]
    cursor = form.cleaned_data["cursor"]
    spans_only = fragment and form.cleaned_data["spans"]
    filter_params = [("type", t) for t in types]
    context.update(selected_types=types, filter_query=urlencode(filter_params))

    try:
        if fragment:
            page, contact = timeline_page(org_id=org_id, contact_id=contact_id, types=types, cursor=cursor), None
        else:
            page, contact = timeline_with_contact(org_id=org_id, contact_id=contact_id, types=types, cursor=cursor)
    except InventError as exc:
        problem = describe_failure(exc)
        context["problem"] = problem
        if fragment:
            # Only the pager changes: every card already on screen stays.
            context.update(
                retry_url=request.get_full_path(),
                retry_target="#timeline" if partial == "timeline" else "#timeline-feed",
                retry_swap="outerHTML" if partial == "timeline" else "beforeend",
                retry_push=partial == "timeline",
            )
            response = reswap(
                render(request, "timeline/timeline.html#pager_error", context, status=problem.status), "none"
            )
        else:
            response = render(request, "timeline/error.html", context, status=problem.status)
        return _with_retry_after(response, problem)

    now = timezone.now()
    # How long each block, unsubscription or segment membership on this page
    # lasted. Working that out can take several upstream reads, so pages that
    # htmx appends get their spans from a second request made once the cards
    # are on screen; full pages (also the no-JavaScript path) carry them inline.
    has_paired_events = any(a.type in SPAN_TYPES for a in page.activities)
    spans_follow = fragment and has_paired_events
    if not fragment:
        spans, state = spans_and_state(
            org_id=org_id, contact_id=contact_id, activities=page.activities, contact=contact
        )
        context["header"] = build_header(contact, state, tz=timezone.get_current_timezone(), now=now)
    elif spans_only or not spans_follow:
        spans = activity_spans(org_id=org_id, contact_id=contact_id, activities=page.activities)
    else:
        spans = None
    context.update(
        page=page,
        entries=build_entries(
            page.activities,
            offset=page.offset,
            tz=timezone.get_current_timezone(),
            now=now,
            previous=cursor.before if cursor else None,
            spans=spans,
        ),
        next_url=(
            f"{base_url}?{urlencode([*filter_params, *cursor_params(page.next_cursor)])}" if page.next_cursor else None
        ),
        spans_url=with_param(request.get_full_path(), "spans=1") if spans_follow and not spans_only else None,
        is_first_page=cursor is None,
    )
    if spans_only:
        return reswap(render(request, "timeline/timeline.html#spans", context), "none")
    if fragment:
        response = render(request, f"timeline/timeline.html#{partial}", context)
        return response if page.stale else store_fragment(request, cache_key, response)

    context["contact"] = contact
    # A HEAD (a link checker, say) is not somebody reading the timeline.
    if cursor is None and request.method == "GET" and request.user.is_authenticated:
        TimelineView.objects.create(
            user=request.user,
            org_id=org_id,
            contact_id=contact_id,
            contact_name=(contact.display_name if contact else "")[:200],
            ip_address=request.META.get("REMOTE_ADDR") or None,
        )
    return render(request, "timeline/timeline.html", context)


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
    return _with_retry_after(response, problem) if problem else response


@login_not_required
@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness only: no upstream call, no database query."""
    return HttpResponse("ok\n", content_type="text/plain")
