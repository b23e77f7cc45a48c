"""Contacts: the one record behind a timeline's header, and searches for the find page."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings

from timeline_site.invent.cache import cached_contact
from timeline_site.invent.client import ContactFilters, get_client
from timeline_site.invent.errors import InventError
from timeline_site.invent.streams import run_in_background
from timeline_site.invent.types import Contact, ContactPage

logger = logging.getLogger(__name__)


def fetch_contact(*, org_id: str, contact_id: str) -> Contact | None:
    """The contact record (None when Invent has none to give), through the same cache as pages."""
    contact, _stale = cached_contact(
        org_id=org_id, contact_id=contact_id,
        fetch=lambda: get_client().get_contact(org_id=org_id, contact_id=contact_id),
    )  # fmt: skip
    return contact


def contact_or_none(*, org_id: str, contact_id: str) -> Contact | None:
    """The contact for a page header: a failure here costs the header, never the timeline."""
    try:
        return fetch_contact(org_id=org_id, contact_id=contact_id)
    except InventError as exc:
        logger.info("No contact record for %s/%s: %s", org_id, contact_id, type(exc).__name__)
        return None


def with_contact[T](read: Callable[[], T], *, org_id: str, contact_id: str) -> tuple[T, Contact | None]:
    """A full page's one upstream round: `read` (its failure is the page's) and the contact record (its
    failure only loses the header's details), at once when reads may leave the request's thread."""
    if not settings.INVENT_PARALLEL_FETCH:
        return read(), contact_or_none(org_id=org_id, contact_id=contact_id)
    contact = run_in_background(lambda: contact_or_none(org_id=org_id, contact_id=contact_id))
    return read(), contact.result()


def search_contacts(*, org_id: str, filters: ContactFilters, take: int) -> ContactPage:
    """One page of contacts matching Invent's filters (never cached: staff are looking for what is there now)."""
    return get_client().list_contacts(org_id=org_id, filters=filters, take=take)
