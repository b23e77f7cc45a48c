"""A validated timeline request, and the URLs that carry it on (filters, cursor)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.http import urlencode

from timeline_site.invent.cursor import Cursor, encode_cursor


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
