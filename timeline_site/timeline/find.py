"""The find page: which organisations a user may search, what a query means, recent contacts.

What was typed is turned into one of Invent's documented contact filters (GET /orgs/{org}/contacts):

- anything with an "@" is an e-mail address: the `email` filter;
- digits, optionally with "+", spaces, dots, dashes, slashes or brackets, are a
  phone number: the `user_id` filter (a channel's user id is its phone number
  on SMS and WhatsApp). Invent matches it as a substring, and WhatsApp stores
  "447700900018" where SMS stores "+447700900018", so the filter is the E.164
  digits without the "+": a national ("07700 900018") or international-prefix
  ("0044 7700 900018") form is first normalised with the default region
  (TIMELINE_PHONE_REGION); what cannot be normalised is searched by its digits;
- anything else is a name: the generic `search` filter, which Invent documents
  as a search by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, OuterRef, Subquery
from django.urls import reverse

from timeline_site.invent.client import ContactFilters, is_valid_path_part
from timeline_site.invent.types import Contact
from timeline_site.timeline.access import allowed_org_ids
from timeline_site.timeline.contact_display import ChannelLine, channel_lines
from timeline_site.timeline.display import exact_time, relative_time
from timeline_site.timeline.models import OrgAccess, TimelineView

QueryKind = Literal["email", "phone", "name"]
PHONE_LIKE = re.compile(r"\+?[0-9 ().\-/]+")
MIN_PHONE_DIGITS = 3
MIN_QUERY_LENGTH = 2
RECENT_LIMIT = 8

_KIND_LABELS: dict[QueryKind, str] = {"email": "e-mail", "phone": "phone number", "name": "name"}


@dataclass(frozen=True, slots=True)
class ContactQuery:
    kind: QueryKind
    text: str
    filters: ContactFilters

    @property
    def label(self) -> str:
        return _KIND_LABELS[self.kind]


def parse_query(text: str, *, phone_region: str | None = None) -> ContactQuery | None:
    """What `text` searches for, or None when there is nothing to search.

    `phone_region` is the region national phone numbers belong to (default: the
    TIMELINE_PHONE_REGION setting).
    """
    text = " ".join(text.split())
    if not text:
        return None
    if "@" in text:
        return ContactQuery("email", text, ContactFilters(email=text))
    digits = _digits(text)
    if PHONE_LIKE.fullmatch(text) and len(digits) >= MIN_PHONE_DIGITS:
        region = settings.TIMELINE_PHONE_REGION if phone_region is None else phone_region
        return ContactQuery("phone", text, ContactFilters(user_id=phone_filter(text, region=region)))
    return ContactQuery("name", text, ContactFilters(search=text))


def phone_filter(text: str, *, region: str) -> str:
    """Invent's `user_id` filter for a typed phone number: E.164 digits without "+", else the typed digits.

    Without the "+" the value is a substring of both the SMS ("+447700900018") and
    the WhatsApp ("447700900018") user id. Falling back to the typed digits keeps
    partial numbers ("900018") working, as Invent matches substrings.
    """
    e164 = normalise_phone(text, region=region)
    return e164.removeprefix("+") if e164 else _digits(text)


def normalise_phone(text: str, *, region: str) -> str | None:
    """`text` as an E.164 number ("+447700900018"), or None when it is not a whole phone number.

    `region` (ISO 3166 alpha-2, e.g. "GB"; empty: none) says which country a
    number written in national form belongs to.
    """
    try:
        number = phonenumbers.parse(text, region.strip().upper() or None)
    except phonenumbers.NumberParseException:  # not a number, or national form without a (known) region
        return None
    # Length only, not validity: libphonenumber calls Ofcom's drama range
    # (07700 900xxx, as in the demo data) invalid, yet it is a real-looking
    # number someone will type. Local-only lengths lack an area code.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    # Typed bare (no "+", no international or trunk prefix) it may be a fragment
    # ("7700 900018") or another country's number ("415 555 0100") that would
    # gain the wrong country code: take it only when valid in the region. Their
    # digits are already a substring of the stored number anyway.
    bare = _digits(text) == phonenumbers.national_significant_number(number)
    if bare and not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


@dataclass(frozen=True, slots=True)
class OrgChoice:
    id: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id


def org_choices(user: AbstractBaseUser | AnonymousUser) -> list[OrgChoice]:
    """The organisations to offer: the user's own grants, or every granted org for superusers."""
    allowed = allowed_org_ids(user)
    if not user.is_authenticated or (allowed is not None and not allowed):
        return []
    rows = OrgAccess.objects.all() if allowed is None else OrgAccess.objects.filter(user_id=user.pk)
    names: dict[str, str] = {}
    for org_id, org_name in rows.values_list("org_id", "org_name"):
        if not names.get(org_id):
            names[org_id] = org_name
    return sorted((OrgChoice(i, n) for i, n in names.items()), key=lambda o: (o.name or o.id).casefold())


def remembered_org(remembered: object, orgs: list[OrgChoice], *, any_org: bool) -> str:
    """The org to preselect: the one used last (if still allowed), else the first one offered."""
    usable = isinstance(remembered, str) and is_valid_path_part(remembered)
    if usable and (any_org or any(o.id == remembered for o in orgs)):
        return str(remembered)
    return orgs[0].id if orgs else ""


@dataclass(frozen=True, slots=True)
class ContactResult:
    contact: Contact
    url: str | None  # None: an id that cannot be part of a dashboard URL
    channels: tuple[ChannelLine, ...]


def contact_results(org_id: str, contacts: tuple[Contact, ...]) -> list[ContactResult]:
    return [
        ContactResult(
            contact=contact,
            url=reverse("contact_timeline", args=[org_id, contact.id]) if is_valid_path_part(contact.id) else None,
            channels=channel_lines(contact),
        )
        for contact in contacts
    ]


@dataclass(frozen=True, slots=True)
class RecentContact:
    org_id: str
    org_label: str
    contact_id: str
    name: str  # as it was when viewed; may be empty
    viewed_at: datetime
    viewed_relative: str
    viewed_exact: str
    url: str


def recently_viewed(
    user: AbstractBaseUser | AnonymousUser, *, orgs: list[OrgChoice], tz: tzinfo, now: datetime,
    limit: int = RECENT_LIMIT,
) -> list[RecentContact]:  # fmt: skip
    """The user's latest distinct (org, contact) timelines, in orgs they may still see."""
    if not user.is_authenticated:
        return []
    allowed = allowed_org_ids(user)
    views = TimelineView.objects.filter(user_id=user.pk)
    if allowed is not None:
        views = views.filter(org_id__in=allowed)
    latest_name = TimelineView.objects.filter(
        user_id=user.pk, org_id=OuterRef("org_id"), contact_id=OuterRef("contact_id")
    ).order_by("-viewed_at", "-pk")
    rows = (
        views.values("org_id", "contact_id")
        .annotate(last_viewed=Max("viewed_at"), name=Subquery(latest_name.values("contact_name")[:1]))
        .order_by("-last_viewed", "org_id", "contact_id")[:limit]
    )
    labels = {o.id: o.label for o in orgs}
    recent = []
    for row in rows:
        org_id, contact_id = row["org_id"], row["contact_id"]
        if not (is_valid_path_part(org_id) and is_valid_path_part(contact_id)):
            continue
        recent.append(
            RecentContact(
                org_id=org_id,
                org_label=labels.get(org_id, org_id),
                contact_id=contact_id,
                name=row["name"] or "",
                viewed_at=row["last_viewed"].replace(microsecond=0),  # <time datetime> takes milliseconds at most
                viewed_relative=relative_time(row["last_viewed"], now),
                viewed_exact=exact_time(row["last_viewed"], tz),
                url=reverse("contact_timeline", args=[org_id, contact_id]),
            )
        )
    return recent
