"""The find page: which organisations a user may search, what a query means, recent contacts.

What was typed is turned into one of Invent's contact filters (contract 5.1):

- anything with an "@" is an e-mail address: the `email` filter;
- digits, optionally with "+", spaces, dots, dashes, slashes or brackets, are a
  phone number: the `user_id` filter (a channel's user id is its phone number
  on SMS and WhatsApp) with the digits only, since WhatsApp stores
  "447700900018" where SMS stores "+447700900018";
- anything else is a name: the generic `search` filter, which Invent documents
  as a search by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

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


def parse_query(text: str) -> ContactQuery | None:
    """What `text` searches for, or None when there is nothing to search."""
    text = " ".join(text.split())
    if not text:
        return None
    if "@" in text:
        return ContactQuery("email", text, ContactFilters(email=text))
    digits = re.sub(r"[^0-9]", "", text)
    if PHONE_LIKE.fullmatch(text) and len(digits) >= MIN_PHONE_DIGITS:
        return ContactQuery("phone", text, ContactFilters(user_id=digits))
    return ContactQuery("name", text, ContactFilters(search=text))


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
                viewed_at=row["last_viewed"],
                viewed_relative=relative_time(row["last_viewed"], now),
                viewed_exact=exact_time(row["last_viewed"], tz),
                url=reverse("contact_timeline", args=[org_id, contact_id]),
            )
        )
    return recent
