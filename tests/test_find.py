"""The find page: org choice, search by e-mail / name / phone through Invent's contact filters,
htmx results, failures, access, and recently viewed contacts. Runs against the embedded demo."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from timeline_site.demo_invent.models import DemoContact
from timeline_site.invent.client import ContactFilters, InventClient
from timeline_site.timeline.find import normalise_phone, parse_query
from timeline_site.timeline.models import OrgAccess, TimelineView


def results_of(html: str) -> list[str]:
    return re.findall(r'<li class="result" data-contact-id="([^"]+)"', html)


def result_item(html: str, contact_id: str) -> str:
    return next(
        part for part in html.split('<li class="result" ') if part.startswith(f'data-contact-id="{contact_id}"')
    )


def find(client: Client, q: str, org: str = "northwind", **headers: str) -> tuple[int, str]:
    response = client.get("/", {"org": org, "q": q}, **headers)
    return response.status_code, response.content.decode()


# --- What a query means ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kind", "filters"),
    [
        ("ada@analytical.example", "email", ContactFilters(email="ada@analytical.example")),
        ("  Ada@  ", "email", ContactFilters(email="Ada@")),
        ("+44 7700 900018", "phone", ContactFilters(user_id="447700900018")),
        ("(0351) 912-345.678", "phone", ContactFilters(user_id="0351912345678")),
        ("Ada  Lovelace", "name", ContactFilters(search="Ada Lovelace")),
        ("12", "name", ContactFilters(search="12")),  # too few digits for a phone number
        ("R2-D2", "name", ContactFilters(search="R2-D2")),
    ],
)
def test_what_was_typed_picks_the_filter(typed: str, kind: str, filters: ContactFilters) -> None:
    query = parse_query(typed)
    assert query is not None and (query.kind, query.filters) == (kind, filters)


def test_nothing_typed_is_no_query() -> None:
    assert parse_query("   ") is None


@pytest.mark.parametrize(
    ("typed", "region", "e164"),
    [
        ("07700 900018", "GB", "+447700900018"),  # national form: the region supplies +44
        ("(07700) 900-018", "gb", "+447700900018"),
        ("0044 7700 900018", "GB", "+447700900018"),  # the region's international prefix
        ("+44 7700 900018", "", "+447700900018"),
        ("44 7700 900018", "GB", "+447700900018"),  # a "+" lost as a space in a URL
        ("+1 (415) 555-0100", "GB", "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("(415) 555-0100", "GB", None),  # bare and not a GB number: not given a +44
        ("900018", "GB", None),  # a fragment
        ("07700 900018", "", None),  # national form without a region
        ("07700 900018", "XX", None),  # unknown region
        ("+44 7700", "GB", None),  # too short
        ("Ada", "GB", None),
    ],
)
def test_normalise_phone(typed: str, region: str, e164: str | None) -> None:
    assert normalise_phone(typed, region=region) == e164


@pytest.mark.parametrize(
    ("typed", "user_id"),
    [
        ("07700 900018", "447700900018"),
        ("0044 7700 900018", "447700900018"),
        ("900018", "900018"),  # not a whole number: its digits, which Invent matches as a substring
        ("(415) 555-0100", "4155550100"),
    ],
)
def test_a_phone_number_is_searched_by_its_e164_digits_or_else_its_digits(typed: str, user_id: str) -> None:
    query = parse_query(typed, phone_region="GB")
    assert query is not None and (query.kind, query.filters) == ("phone", ContactFilters(user_id=user_id))


def test_the_phone_region_comes_from_settings(settings: Any) -> None:
    settings.TIMELINE_PHONE_REGION = "US"
    query = parse_query("(415) 555-0100")
    assert query is not None and query.filters == ContactFilters(user_id="14155550100")


# --- Searching ------------------------------------------------------------------------------


def test_search_by_email_finds_the_contact_with_channels_badges_and_segments(
    staff_client: Client, searches: list[dict[str, Any]]
) -> None:
    status, html = find(staff_client, "ada@analytical")
    assert status == 200
    assert searches == [{"org_id": "northwind", "filters": ContactFilters(email="ada@analytical"), "take": 20}]
    assert results_of(html) == ["ct_ada"]
    assert '<a class="result-link" href="/orgs/northwind/contacts/ct_ada/"><bdi>Ada Lovelace</bdi></a>' in html
    assert "<bdi>ada@analytical.example</bdi>" in html and "<bdi>+447700900018</bdi>" in html
    assert '<span class="channel-platform">WhatsApp</span>' in html
    assert "<bdi>Feedback panel</bdi>" in html  # a segment chip
    assert "whose e-mail matches “<bdi>ada@analytical</bdi>”" in html


def test_search_by_phone_matches_sms_and_whatsapp_numbers(staff_client: Client, searches: list[dict[str, Any]]) -> None:
    status, html = find(staff_client, "+44 7700 900018")
    assert status == 200 and results_of(html) == ["ct_ada"]
    assert searches[0]["filters"] == ContactFilters(user_id="447700900018")
    assert "whose phone number matches" in html


@pytest.mark.parametrize("typed", ["07700 900018", "+44 7700 900018", "0044 7700 900018", "(07700) 900-018"])
def test_search_by_phone_in_any_common_form(
    staff_client: Client, searches: list[dict[str, Any]], settings: Any, typed: str
) -> None:
    settings.TIMELINE_PHONE_REGION = "GB"
    status, html = find(staff_client, typed)
    assert status == 200 and results_of(html) == ["ct_ada"]
    assert searches[0]["filters"] == ContactFilters(user_id="447700900018")


def test_a_national_number_needs_the_region(staff_client: Client, settings: Any) -> None:
    # Without a region "07700 900018" is searched as typed, and no stored number contains its trunk "0".
    settings.TIMELINE_PHONE_REGION = ""
    assert results_of(find(staff_client, "07700 900018")[1]) == []
    settings.TIMELINE_PHONE_REGION = "GB"
    assert results_of(find(staff_client, "07700 900018")[1]) == ["ct_ada"]


def test_part_of_a_phone_number_still_finds_the_contact(staff_client: Client, settings: Any) -> None:
    settings.TIMELINE_PHONE_REGION = "GB"
    assert results_of(find(staff_client, "900018")[1]) == ["ct_ada"]


def test_search_by_name(staff_client: Client, searches: list[dict[str, Any]]) -> None:
    status, html = find(staff_client, "lovelace")
    assert status == 200 and results_of(html) == ["ct_ada"]
    assert searches[0]["filters"] == ContactFilters(search="lovelace")


@pytest.mark.parametrize("flag", ["blocked", "unsubscribed"])
def test_results_show_status_badges(staff_client: Client, flag: str) -> None:
    contact = next(c for c in DemoContact.objects.filter(org_id="northwind") if c.data.get(flag) and c.data.get("name"))
    email = next(ch["email"] for ch in contact.data["channels"] if ch.get("email"))
    _status, html = find(staff_client, email)
    assert contact.contact_id in results_of(html)
    assert f'<span class="badge badge-{flag}">' in result_item(html, contact.contact_id)


def test_results_are_per_organisation(staff_client: Client) -> None:
    assert results_of(find(staff_client, "bruno")[1]) == []
    assert results_of(find(staff_client, "bruno", org="northwind-emea")[1]) == ["ct_bruno"]


def test_no_results_says_so_and_how_to_go_on(staff_client: Client) -> None:
    status, html = find(staff_client, "nobody@nowhere.example")
    assert status == 200 and results_of(html) == []
    assert 'data-results-count="0"' in html
    assert "No contact in northwind has an e-mail address matching “<bdi>nobody@nowhere.example</bdi>”" in html


def test_too_short_or_empty_queries_make_no_upstream_call(staff_client: Client, searches: list[dict[str, Any]]) -> None:
    assert "Type at least two characters." in find(staff_client, "a")[1]
    assert "Type an e-mail address, a name or a phone number" in find(staff_client, "")[1]
    assert searches == []


def test_upstream_failure_is_a_clear_message_in_the_results(staff_client: Client, settings: Any) -> None:
    settings.DEMO_INVENT_ENABLED = False
    settings.INVENT_API_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.INVENT_API_KEY = "k"
    status, html = find(staff_client, "ada@", HTTP_HX_REQUEST="true")
    assert status == 502
    assert "<strong>Invent is not answering.</strong>" in html and "Try again" in html
    assert results_of(html) == [] and "<html" not in html  # the fragment, swapped in place of the results


def test_rate_limited_upstream_says_when_to_retry(staff_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from timeline_site.invent.errors import InventRateLimited

    def limited(self: InventClient, **kwargs: Any) -> None:
        raise InventRateLimited(30)

    monkeypatch.setattr(InventClient, "list_contacts", limited)
    response = staff_client.get("/", {"org": "northwind", "q": "ada"})
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "Try again in 30 seconds" in response.content.decode()


# --- Page and fragment ------------------------------------------------------------------------


def test_htmx_gets_only_the_results_fragment(staff_client: Client) -> None:
    response = staff_client.get("/", {"org": "northwind", "q": "ada@"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert results_of(html) == ["ct_ada"]
    assert "<html" not in html and 'id="find"' not in html and "Recently viewed" not in html


def test_without_javascript_the_form_submits_and_the_page_shows_results(staff_client: Client) -> None:
    html = find(staff_client, "ada@")[1]
    assert '<form id="find" class="find-form" method="get" action="/"' in html
    assert '<input id="find-q" name="q" type="search" value="ada@"' in html
    assert '<div id="results" class="results" aria-live="polite">' in html and results_of(html) == ["ct_ada"]
    # The htmx active search: debounced, queues (never aborts) so an older answer cannot land last,
    # pushes the query into the URL.
    assert 'data-hx-trigger="submit, input changed delay:300ms from:#find-q, search from:#find-q' in html
    assert 'data-hx-sync="this:queue last"' in html and 'data-hx-push-url="true"' in html
    assert 'data-hx-target="#results"' in html


def test_the_org_choice_is_remembered(staff_client: Client) -> None:
    html = staff_client.get("/").content.decode()
    assert '<option value="northwind" selected>' in html
    staff_client.get("/", {"org": "northwind-emea", "q": ""})
    html = staff_client.get("/").content.decode()
    assert '<option value="northwind-emea" selected>' in html
    assert "find a contact in northwind-emea" in html


# --- Access ----------------------------------------------------------------------------------


def test_an_org_the_user_may_not_see_is_a_404_without_an_upstream_call(
    staff_client: Client, searches: list[dict[str, Any]]
) -> None:
    assert find(staff_client, "ada@", org="elsewhere")[0] == 404
    assert find(staff_client, "ada@", org="../northwind")[0] == 404
    assert searches == []


def test_a_remembered_org_no_longer_granted_is_not_used(staff_client: Client, staff_user: Any) -> None:
    staff_client.get("/", {"org": "northwind-emea"})
    OrgAccess.objects.filter(user=staff_user, org_id="northwind-emea").delete()
    html = staff_client.get("/").content.decode()
    assert '<option value="northwind" selected>' in html and "northwind-emea" not in html


def test_a_user_without_organisations_is_told_so(client: Client, db: None) -> None:
    user = get_user_model().objects.create_user(username="newbie", password="newbie-pass-123")
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "data-no-orgs" in html and 'id="find"' not in html


def test_superusers_may_type_any_org(client: Client, db: None, searches: list[dict[str, Any]]) -> None:
    admin = get_user_model().objects.create_superuser("root", password="root-pass-123")
    client.force_login(admin)
    html = client.get("/").content.decode()
    assert '<input id="find-org" name="org" type="text" list="find-org-options"' in html
    assert "a phone number to find a contact.</p>" in html  # no org chosen yet
    assert results_of(find(client, "bruno", org="northwind-emea")[1]) == ["ct_bruno"]
    status, html = find(client, "ada", org="no-such-org")
    assert status == 404 and "Organisation not found" in html
    status, html = find(client, "ada", org="bad org!")
    assert status == 200 and "An organisation ID has only letters" in html
    assert [c["org_id"] for c in searches] == ["northwind-emea", "no-such-org"]


def test_sign_in_is_required(client: Client) -> None:
    response = client.get("/", {"org": "northwind", "q": "ada"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Recently viewed ----------------------------------------------------------------------------


def test_recently_viewed_lists_the_latest_distinct_contacts_in_orgs_still_visible(
    staff_client: Client, staff_user: Any
) -> None:
    other = get_user_model().objects.create_user(username="other", password="other-pass-123")
    view = TimelineView.objects.create
    view(user=staff_user, org_id="northwind", contact_id="ct_ada", contact_name="Ada (old name)")
    view(user=staff_user, org_id="northwind-emea", contact_id="ct_bruno", contact_name="Bruno Silva")
    view(user=staff_user, org_id="revoked-org", contact_id="ct_x", contact_name="Not visible any more")
    view(user=other, org_id="northwind", contact_id="ct_heavy", contact_name="Someone else's")
    view(user=staff_user, org_id="northwind", contact_id="ct_ada", contact_name="Ada Lovelace")
    html = staff_client.get("/").content.decode()
    recent = re.findall(r'<li data-recent="([^"]+)">\s*<a href="([^"]+)"><bdi>([^<]*)</bdi>', html)
    assert recent == [
        ("northwind/ct_ada", "/orgs/northwind/contacts/ct_ada/", "Ada Lovelace"),
        ("northwind-emea/ct_bruno", "/orgs/northwind-emea/contacts/ct_bruno/", "Bruno Silva"),
    ]


def test_opening_a_timeline_puts_it_on_top_of_recently_viewed(staff_client: Client) -> None:
    staff_client.get(reverse("contact_timeline", args=["northwind-emea", "ct_bruno"]))
    staff_client.get(reverse("contact_timeline", args=["northwind", "ct_ada"]))
    html = staff_client.get("/").content.decode()
    assert re.findall(r'<li data-recent="([^"]+)"', html) == ["northwind/ct_ada", "northwind-emea/ct_bruno"]
    assert "viewed <time" in html and "just now" in html


def test_hostile_names_stay_text_in_results_and_recent(staff_client: Client) -> None:
    _status, html = find(staff_client, "evil.example")
    assert "ct_hostile" in results_of(html)
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
