"""Links from CRM records: `/orgs/<org>/lookup/?email=…` (or `phone=`, `q=`) opens the one contact's timeline."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from timeline_site.invent.client import ContactFilters, InventClient
from timeline_site.invent.errors import InventAuthError, InventRateLimited, InventUnavailable
from timeline_site.invent.types import Channel, Contact, ContactPage
from timeline_site.timeline import lookup
from timeline_site.timeline.models import OrgAccess, TimelineView

pytestmark = pytest.mark.django_db

LOOKUP = "/orgs/northwind/lookup/"
ADA = reverse("contact_timeline", args=["northwind", "ct_ada"])
ADA_EMAIL = "ada@analytical.example"


@pytest.fixture
def invent_answers(monkeypatch: pytest.MonkeyPatch) -> list[Contact]:
    """Invent's answer to the contact search, set by the test (for situations the demo has no data for)."""
    contacts: list[Contact] = []

    def answer(self: InventClient, **kwargs: Any) -> ContactPage:
        return ContactPage(items=tuple(contacts), page=1, take=kwargs["take"], total=len(contacts), has_more=False)

    monkeypatch.setattr(InventClient, "list_contacts", answer)
    return contacts


def search_box(page: str) -> str:
    match = re.search(r'<input id="find-q" name="q" type="search" value="([^"]*)"', page)
    assert match, "the find page's search box"
    return html.unescape(match.group(1))


def listed(page: str) -> list[str]:
    return re.findall(r'<li class="result" data-contact-id="([^"]+)"', page)


def contact(contact_id: str, *channels: Channel, name: str = "") -> Contact:
    return Contact(id=contact_id, name=name, channels=channels)


# --- One match: a redirect to the timeline -----------------------------------------------------


def test_an_email_opens_the_contacts_timeline(staff_client: Client, searches: list[dict[str, Any]]) -> None:
    response = staff_client.get(LOOKUP, {"email": ADA_EMAIL})
    assert response.status_code == 302 and response["Location"] == ADA
    assert [call["filters"] for call in searches] == [ContactFilters(email=ADA_EMAIL)]
    assert staff_client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "email=ADA%40Analytical.Example",  # addresses compare without case
        "email=%20ada%40analytical.example%20",
        "phone=%2B447700900018",  # international form, encoded as a link should be
        "phone=%2B44%207700%20900018",
        "phone=0044%207700%20900018",
        "phone=07700%20900018",  # national form, read with TIMELINE_PHONE_REGION (GB)
        "phone=(07700)%20900-018",
        "phone=+44 7700 900018",  # an unencoded "+" arrives as a space: read back as the "+" it was
        "phone=447700900018",  # as WhatsApp stores it
        "q=ada%40analytical.example",
        "q=%2B44%207700%20900018",
        "q=ada%20%20lovelace",
    ],
)
def test_the_record_s_email_or_phone_in_any_common_form_opens_the_timeline(staff_client: Client, query: str) -> None:
    response = staff_client.get(f"{LOOKUP}?{query}")
    assert response.status_code == 302 and response["Location"] == ADA


def test_a_national_number_is_read_in_the_configured_region(staff_client: Client, settings: Any) -> None:
    settings.TIMELINE_PHONE_REGION = "US"
    assert staff_client.get(LOOKUP, {"phone": "07700 900018"}).status_code == 200  # not a US number: no match
    assert staff_client.get(LOOKUP, {"phone": "+44 7700 900018"})["Location"] == ADA
    # Not a US number either, but all its digits are Ada's WhatsApp user id (stored without "+").
    assert staff_client.get(LOOKUP, {"phone": "447700900018"})["Location"] == ADA


def test_the_link_s_filters_and_embed_are_kept(staff_client: Client) -> None:
    query = "email=ada%40analytical.example&type=note_created&type=contact_blocked&by=staff&embed=1&utm=x"
    response = staff_client.get(f"{LOOKUP}?{query}")
    assert response["Location"] == f"{ADA}?type=note_created&type=contact_blocked&by=staff&embed=1"
    timeline = staff_client.get(response["Location"])
    types = set(re.findall(r'data-activity-type="([^"]+)"', timeline.content.decode()))
    assert timeline.status_code == 200 and types <= {"note_created", "contact_blocked"} and types


def test_the_first_of_email_phone_and_q_is_looked_up(staff_client: Client, searches: list[dict[str, Any]]) -> None:
    # One link can carry both of a record's fields: an empty e-mail falls back to the phone.
    response = staff_client.get(LOOKUP, {"email": "", "phone": "+447700900018", "q": "nobody"})
    assert response["Location"] == ADA
    assert [call["filters"] for call in searches] == [ContactFilters(user_id="447700900018")]


def test_a_one_match_lookup_is_recorded_like_an_opened_timeline(staff_client: Client, staff_user: Any) -> None:
    staff_client.get(LOOKUP, {"email": ADA_EMAIL})
    row = TimelineView.objects.get(user=staff_user)
    assert (row.org_id, row.contact_id, row.contact_name) == ("northwind", "ct_ada", "Ada Lovelace")


def test_a_head_request_redirects_but_is_nobody_reading(staff_client: Client, staff_user: Any) -> None:
    response = staff_client.head(LOOKUP, {"email": ADA_EMAIL})
    assert response.status_code == 302 and response["Location"] == ADA
    assert not TimelineView.objects.filter(user=staff_user).exists()


# --- No match, several matches -----------------------------------------------------------------


def test_an_unknown_email_shows_the_find_page_with_the_address_filled_in(staff_client: Client, staff_user: Any) -> None:
    response = staff_client.get(LOOKUP, {"email": "nobody+crm@analytical.example"})
    page = response.content.decode()
    assert response.status_code == 200 and "Location" not in response
    assert search_box(page) == "nobody+crm@analytical.example"
    assert 'data-lookup="none"' in page and "No contact in northwind with this e-mail" in page
    assert '<option value="northwind" selected>' in page  # the link's org is the one searched
    assert not TimelineView.objects.filter(user=staff_user).exists()


def test_the_org_name_is_used_when_known(staff_client: Client, staff_user: Any) -> None:
    OrgAccess.objects.filter(user=staff_user, org_id="northwind").update(org_name="Northwind Support")
    page = staff_client.get(LOOKUP, {"email": "nobody@example.org"}).content.decode()
    assert "No contact in Northwind Support (northwind) with this e-mail" in page


def test_an_unknown_phone_number_says_so(staff_client: Client) -> None:
    page = staff_client.get(LOOKUP, {"phone": "+44 7700 900999"}).content.decode()
    assert "No contact in northwind with this phone number" in page and search_box(page) == "+44 7700 900999"


def test_a_partial_match_is_listed_but_never_opened(staff_client: Client) -> None:
    # Invent's `email` filter matches part of an address: the demo finds Ada for "ada@analytical".
    # (`email=` wants a whole address; `q=` takes anything, as the find page does.)
    response = staff_client.get(LOOKUP, {"q": "ada@analytical"})
    page = response.content.decode()
    assert response.status_code == 200 and listed(page) == ["ct_ada"]
    assert 'data-lookup="none"' in page and "whose e-mail contains it" in page


def test_several_contacts_with_the_email_are_listed_to_choose_from(
    staff_client: Client, invent_answers: list[Contact]
) -> None:
    invent_answers += [
        contact("ct_one", Channel("c1", "gmail", "sam@example.org", email="sam@example.org"), name="Sam One"),
        contact("ct_two", Channel("c2", "gmail", "x", email="SAM@example.org"), name="Sam Two"),
        contact("ct_other", Channel("c3", "gmail", "sam@example.org.uk", email="sam@example.org.uk")),
    ]
    response = staff_client.get(LOOKUP, {"email": "sam@example.org"})
    page = response.content.decode()
    assert response.status_code == 200 and listed(page) == ["ct_one", "ct_two"]
    assert 'data-lookup="several"' in page and "2 contacts in northwind have this e-mail" in page
    assert f'href="{reverse("contact_timeline", args=["northwind", "ct_one"])}"' in page


def test_no_exact_match_among_an_incomplete_answer_does_not_claim_there_is_none(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = contact("ct_x", Channel("c", "gmail", "ann@example.org", email="ann@example.org"))

    def answer(self: InventClient, **kwargs: Any) -> ContactPage:
        return ContactPage(items=(partial,), page=1, take=kwargs["take"], total=80, has_more=True)

    monkeypatch.setattr(InventClient, "list_contacts", answer)
    page = staff_client.get(LOOKUP, {"email": "an@example.org"}).content.decode()
    assert 'data-lookup="unsure"' in page and "No contact in" not in page and listed(page) == ["ct_x"]


def test_a_match_whose_id_cannot_be_a_url_is_shown_not_opened(
    staff_client: Client, invent_answers: list[Contact]
) -> None:
    invent_answers.append(contact("ct/../x", Channel("c", "gmail", "odd@example.org", email="odd@example.org")))
    response = staff_client.get(LOOKUP, {"email": "odd@example.org"})
    assert response.status_code == 200 and 'data-lookup="one"' in response.content.decode()


# --- Bad links, access, upstream failures --------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "names no e-mail address, phone number or name"),
        ("email=&phone=&q=%20", "names no e-mail address, phone number or name"),
        ("email=not-an-address", "is not an e-mail address"),
        ("email=ada%40analytical", "is not an e-mail address"),
        ("email=%3Cscript%3Ealert(1)%3C%2Fscript%3E%40x", "is not an e-mail address"),
        ("email=a%0A%40b", "is not an e-mail address"),
        ("email=a%00%40b", "Null characters are not allowed"),
        ("email=" + "a" * 400 + "%40b", "at most 320 characters"),
        ("phone=call%20me", "is not a phone number"),
        ("email=ada%40analytical.example&type=%3Cscript%3E", "is not an activity type"),
        ("email=ada%40analytical.example&by=robot", "is not who did an activity"),
    ],
)
def test_a_bad_link_is_a_400_on_the_find_page_with_no_upstream_call(
    staff_client: Client, searches: list[dict[str, Any]], query: str, message: str
) -> None:
    response = staff_client.get(f"{LOOKUP}?{query}")
    page = response.content.decode()
    assert response.status_code == 400 and message in html.unescape(page) and searches == []
    assert "<script>alert" not in page and "Find a contact" in page


def test_an_org_the_user_may_not_see_is_a_404_like_an_unknown_one(
    staff_client: Client, staff_user: Any, searches: list[dict[str, Any]]
) -> None:
    OrgAccess.objects.filter(user=staff_user, org_id="northwind").delete()
    denied = staff_client.get(LOOKUP, {"email": ADA_EMAIL})
    unknown = staff_client.get("/orgs/nowhere/lookup/", {"email": ADA_EMAIL})
    malformed = staff_client.get("/orgs/north%20wind/lookup/", {"email": ADA_EMAIL})
    assert denied.status_code == unknown.status_code == malformed.status_code == 404
    assert denied.content == unknown.content and searches == []


def test_a_superuser_s_unknown_org_is_invent_s_404(client: Client, django_user_model: Any) -> None:
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    response = client.get("/orgs/nowhere/lookup/", {"email": ADA_EMAIL})
    assert response.status_code == 404 and "Organisation not found" in response.content.decode()


@pytest.mark.parametrize(
    ("error", "status", "says"),
    [
        (InventUnavailable(), 502, "Invent is not answering"),
        (InventRateLimited(30), 503, "Try again in 30 seconds"),
        (InventAuthError(), 502, "The dashboard cannot sign in to Invent"),
    ],
)
def test_upstream_failures_get_the_usual_messages(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, says: str
) -> None:
    def fail(self: InventClient, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(InventClient, "list_contacts", fail)
    response = staff_client.get(LOOKUP, {"email": ADA_EMAIL})
    page = response.content.decode()
    assert response.status_code == status and says in page and search_box(page) == ADA_EMAIL
    assert f'href="{LOOKUP}?email=ada%40analytical.example"' in page  # "Try again" asks the same lookup
    if status == 503:
        assert response["Retry-After"] == "30"


# --- Signed out: sign in, back to the lookup, on to the timeline --------------------------------


@pytest.mark.parametrize(
    ("query", "lands_on"),
    [
        ("phone=%2B44%207700%20900018&type=note_created", f"{ADA}?type=note_created"),
        ("email=ada%40analytical.example", ADA),
    ],
)
def test_signed_out_the_lookup_ends_on_the_timeline_after_signing_in(
    client: Client, staff_user: Any, query: str, lands_on: str
) -> None:
    link = f"{LOOKUP}?{query}"
    to_sign_in = client.get(link)
    assert to_sign_in.status_code == 302 and to_sign_in["Location"].startswith("/accounts/login/?next=")
    form = client.get(to_sign_in["Location"]).content.decode()
    next_value = html.unescape(re.search(r'name="next" value="([^"]*)"', form).group(1))  # type: ignore[union-attr]
    assert next_value == link  # percent-encoding intact: "%2B" has not become a space
    signed_in = client.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123", "next": next_value})
    assert signed_in.status_code == 302 and signed_in["Location"] == link
    opened = client.get(signed_in["Location"])
    assert opened.status_code == 302 and opened["Location"] == lands_on


def test_an_address_with_a_plus_survives_signing_in(client: Client, staff_user: Any) -> None:
    link = f"{LOOKUP}?email=ada%2Bcrm%40analytical.example"
    sign_in = client.get(link)["Location"]
    assert "%252B" in sign_in  # the "+" is encoded inside next=, which is itself encoded
    signed_in = client.post(sign_in, {"username": "agent", "password": "agent-pass-123", "next": link})
    page = client.get(signed_in["Location"]).content.decode()
    assert search_box(page) == "ada+crm@analytical.example"


# --- The matching rules, on typed records ----------------------------------------------------------


def test_unencoded_plus_signs_are_read_back() -> None:
    assert lookup.repaired_email(" ada news@example.org ") == "ada+news@example.org"
    assert lookup.repaired_phone(" 44 7700 900018") == "+44 7700 900018"
    assert lookup.repaired_phone("07700 900018 ") == "07700 900018"
    assert lookup.repaired_phone(" (0)7700") == "(0)7700"  # a leading space before a bracket is just a space


WA_ONLY = contact("ct_wa", Channel("w", "whatsapp_bot", "447700900018", phone=""))
SMS = contact("ct_sms", Channel("s", "twilio", "+447700900018", phone="+447700900018"))


@pytest.mark.parametrize("region", ["GB", "US", ""])
def test_whatsapp_numbers_without_plus_match_in_any_region(region: str) -> None:
    asked = lookup.phone_lookup("+44 7700 900018", region=region)
    result = lookup.decide(asked, (WA_ONLY, SMS), complete=True, region=region)
    assert [c.id for c in result.matches] == ["ct_wa", "ct_sms"] and result.outcome == "several"


def test_a_longer_number_containing_the_digits_is_not_a_match() -> None:
    longer = contact("ct_long", Channel("s", "twilio", "+4477009000181", phone="+4477009000181"))
    asked = lookup.phone_lookup("+447700900018", region="GB")
    result = lookup.decide(asked, (longer,), complete=True, region="GB")
    assert result.outcome == "none" and result.listed == (longer,)


def test_a_number_that_cannot_be_normalised_matches_on_all_its_digits() -> None:
    asked = lookup.phone_lookup("12345", region="GB")
    short = contact("ct_short", Channel("x", "custom", "12345"))
    other = contact("ct_other", Channel("x", "custom", "123456"))
    assert lookup.decide(asked, (short, other), complete=True, region="GB").contact == short


def test_an_email_matches_a_channel_s_address_or_user_id_exactly() -> None:
    asked = lookup.email_lookup("Ada@Example.org")
    by_user_id = contact("ct_a", Channel("g", "gmail", "ada@example.org"))
    by_email = contact("ct_b", Channel("g", "custom", "u1", email="ADA@EXAMPLE.ORG"))
    longer = contact("ct_c", Channel("g", "gmail", "ada@example.org.uk", email="ada@example.org.uk"))
    result = lookup.decide(asked, (by_user_id, by_email, longer), complete=True, region="GB")
    assert [c.id for c in result.matches] == ["ct_a", "ct_b"]


def test_a_name_must_be_the_whole_name() -> None:
    asked = lookup.query_lookup("ada  LOVELACE", region="GB")
    assert asked is not None and asked.search.kind == "name"
    whole, part = contact("ct_1", name="Ada Lovelace"), contact("ct_2", name="Ada Lovelace-Byron")
    assert lookup.decide(asked, (part, whole), complete=True, region="GB").contact == whole
