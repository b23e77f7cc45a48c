"""A CRM's link to a contact: which contacts have exactly the e-mail address, phone number or name in it.

A CRM record knows the person's e-mail and phone, not Invent's contact id. Invent's filters only narrow
the search: its `email` filter may match part of an address ([?] in the contract) and its `user_id`
filter matches part of a channel's user id. Whether a contact *is* the one the link means is decided
here, on the typed records Invent returned: a channel's e-mail equal to the address (case-insensitive),
a channel's phone or user id that is the same E.164 number, or a name equal to the name.

Query strings turn an unencoded "+" into a space, and some CRMs put record values into links without
encoding them. An address never contains a space and a phone number never starts with one, so those
spaces are read back as the "+" they were (`repaired_email`, `repaired_phone`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from timeline_site.invent.client import ContactFilters
from timeline_site.invent.types import Channel, Contact
from timeline_site.timeline.find import (
    MIN_PHONE_DIGITS,
    PHONE_LIKE,
    ContactQuery,
    normalise_phone,
    parse_query,
    phone_filter,
)

# Enough to hold every contact with this address or number, and the few whose address merely contains it.
LOOKUP_TAKE = 50

Outcome = Literal["one", "several", "none", "unsure"]


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a lookup link asks for: the search to send Invent, and what a contact must have to be the one."""

    search: ContactQuery
    key: str  # a case-folded address, an E.164 number (or the bare digits of one that is not), a case-folded name


def repaired_email(text: str) -> str:
    """An address as the CRM had it: spaces inside it were "+" that nobody encoded ("ada news@…")."""
    return text.strip().replace(" ", "+")


def repaired_phone(text: str) -> str:
    """A number as the CRM had it: a leading space before a digit was an unencoded "+" (" 44 7700 …")."""
    stripped = text.strip()
    if text[:1].isspace() and stripped[:1].isdigit():
        return "+" + stripped
    return stripped


def is_email(text: str) -> bool:
    """A whole address, as a CRM's e-mail field holds it (part of one is for `q`, as on the find page)."""
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def is_phone(text: str) -> bool:
    return bool(PHONE_LIKE.fullmatch(text)) and len(_digits(text)) >= MIN_PHONE_DIGITS


def email_lookup(text: str) -> Lookup:
    """`text`: an address already repaired and checked with `is_email`."""
    return Lookup(ContactQuery("email", text, ContactFilters(email=text)), text.casefold())


def phone_lookup(text: str, *, region: str) -> Lookup:
    """`text`: a number already repaired and checked with `is_phone`."""
    key = normalise_phone(text, region=region) or _digits(text)
    return Lookup(ContactQuery("phone", text, ContactFilters(user_id=phone_filter(text, region=region))), key)


def query_lookup(text: str, *, region: str) -> Lookup | None:
    """The free-text `q`: read as the find page reads it (e-mail, phone number or name)."""
    if "@" in text:
        text = repaired_email(text)
    elif PHONE_LIKE.fullmatch(text.strip()):
        text = repaired_phone(text)
    query = parse_query(text, phone_region=region)
    if query is None:
        return None
    if query.kind == "email":
        return email_lookup(query.text)
    if query.kind == "phone":
        return phone_lookup(query.text, region=region)
    return Lookup(query, query.text.casefold())


def has_email(contact: Contact, key: str) -> bool:
    # An e-mail channel's user id is its address, so it counts as well as the `email` field.
    return any(value.strip().casefold() == key for c in contact.channels for value in (c.email, c.user_id) if value)


def has_phone(contact: Contact, key: str, *, region: str) -> bool:
    return any(_same_number(value, key, region=region) for c in contact.channels for value in _phone_values(c))


def has_name(contact: Contact, key: str) -> bool:
    return " ".join(contact.name.split()).casefold() == key


def _phone_values(channel: Channel) -> tuple[str, ...]:
    return tuple(v for v in (channel.phone, channel.user_id) if v and "@" not in v)


def _same_number(value: str, key: str, *, region: str) -> bool:
    number = normalise_phone(value, region=region)
    if number is not None:
        return number == key
    # Not a number in the region's terms: WhatsApp stores international numbers without "+"
    # ("447700900018"), which only a region with that country code reads as a whole number.
    return _digits(value) == key.removeprefix("+")


def matches(lookup: Lookup, contact: Contact, *, region: str) -> bool:
    kind = lookup.search.kind
    if kind == "email":
        return has_email(contact, lookup.key)
    if kind == "phone":
        return has_phone(contact, lookup.key, region=region)
    return has_name(contact, lookup.key)


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What a lookup found: the contacts that are exactly the one asked for, among what Invent returned."""

    lookup: Lookup
    matches: tuple[Contact, ...]
    found: tuple[Contact, ...]
    complete: bool  # `found` is everything Invent has for the search

    @property
    def outcome(self) -> Outcome:
        if len(self.matches) == 1:
            return "one"
        if self.matches:
            return "several"
        return "none" if self.complete else "unsure"

    @property
    def contact(self) -> Contact | None:
        """The one contact the link means, if there is exactly one."""
        return self.matches[0] if len(self.matches) == 1 else None

    @property
    def listed(self) -> tuple[Contact, ...]:
        """What the find page lists: the exact matches, or else what Invent's search found."""
        return self.matches or self.found


def decide(lookup: Lookup, found: tuple[Contact, ...], *, complete: bool, region: str) -> LookupResult:
    exact = tuple(contact for contact in found if matches(lookup, contact, region=region))
    return LookupResult(lookup=lookup, matches=exact, found=found, complete=complete)


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)
