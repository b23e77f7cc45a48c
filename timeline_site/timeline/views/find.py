"""Finding a contact: the find page, and a CRM's lookup link on to the one contact's timeline."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from timeline_site.invent.client import is_valid_path_part
from timeline_site.invent.contacts import search_contacts
from timeline_site.invent.errors import (
    InventError,
    InventNotFound,
)
from timeline_site.timeline.access import allowed_org_ids, can_view_org
from timeline_site.timeline.audit import record_reading
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
)
from timeline_site.timeline.lookup import LOOKUP_TAKE, Lookup, LookupResult, decide
from timeline_site.timeline.views.common import (
    HtmxHttpRequest,
    Problem,
    describe_failure,
    with_retry_after,
)

logger = logging.getLogger(__name__)


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
