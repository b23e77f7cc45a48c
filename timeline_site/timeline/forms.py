"""Query-string validation for the timeline page (and the find page's search).

The paging parameters are a cursor written by the service (see
timeline_site.invent.timeline.Cursor); a hand-edited or truncated one is
rejected with a 400 rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from django import forms
from django.utils.dateparse import parse_datetime

from timeline_site.invent.client import is_valid_path_part
from timeline_site.invent.timeline import MAX_SEEN_IDS, SEEN_DIGEST_LENGTH, Cursor
from timeline_site.invent.types import KNOWN_ACTIVITY_TYPES

TYPE_LABELS: dict[str, str] = {
    "note_created": "Notes",
    "file_uploaded": "Files",
    "segment_added": "Segment added",
    "segment_removed": "Segment removed",
    "contact_blocked": "Blocked",
    "contact_unblocked": "Unblocked",
    "contact_unsubscribed": "Unsubscribed",
    "contact_resubscribed": "Resubscribed",
}
assert set(TYPE_LABELS) == set(KNOWN_ACTIVITY_TYPES)

MAX_UPSTREAM_PAGE = 100_000
SEEN_DIGEST = re.compile(rf"[0-9a-f]{{{SEEN_DIGEST_LENGTH}}}")
MAX_SHOWN = 10_000_000
MAX_STREAMS = len(KNOWN_ACTIVITY_TYPES)


def _int_list(raw: str, *, field: str, allow_missing: bool = False) -> tuple[int | None, ...]:
    values: list[int | None] = []
    for part in raw.split(","):
        if allow_missing and part == "-":
            values.append(None)
        elif part.isdigit() and len(part) <= 9 and int(part) <= MAX_UPSTREAM_PAGE * 100:
            values.append(int(part))
        else:
            raise forms.ValidationError(f"The {field} list in this link is malformed.")
    if not values or len(values) > MAX_STREAMS:
        raise forms.ValidationError(f"The {field} list in this link is malformed.")
    return tuple(values)


class TimelineQueryForm(forms.Form):
    type = forms.MultipleChoiceField(
        choices=list(TYPE_LABELS.items()),
        required=False,
        error_messages={"invalid_choice": "“%(value)s” is not an activity type this timeline can filter on."},
    )
    # The cursor: all four travel together in the "Older activities" link.
    before = forms.CharField(required=False, max_length=64)
    pages = forms.CharField(required=False, max_length=200)
    counts = forms.CharField(required=False, max_length=200)
    shown = forms.IntegerField(required=False, min_value=0, max_value=MAX_SHOWN)
    # Asked by htmx after a page is on screen: only that page's state spans.
    spans = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        before_raw = data.get("before") or ""
        pages_raw = data.get("pages") or ""
        if not before_raw and not pages_raw:
            data["cursor"] = None
            return data
        before = parse_datetime(before_raw) if before_raw else None
        if before is None or before.tzinfo is None:
            raise forms.ValidationError("The paging position in this link is malformed.")
        seen: list[str] = self.data.getlist("seen") if hasattr(self.data, "getlist") else []
        if len(seen) > MAX_SEEN_IDS or not all(SEEN_DIGEST.fullmatch(s) for s in seen):
            raise forms.ValidationError("The paging position in this link is malformed.")
        pages = _int_list(pages_raw, field="page")
        counts_raw = data.get("counts") or ""
        counts = _int_list(counts_raw, field="count", allow_missing=True) if counts_raw else ()
        if any(p is None or p > MAX_UPSTREAM_PAGE for p in pages) or (counts and len(counts) != len(pages)):
            raise forms.ValidationError("The paging position in this link is malformed.")
        data["cursor"] = Cursor(
            before=before,
            seen=tuple(seen),
            pages=tuple(p or 0 for p in pages),
            counts=counts,
            shown=data.get("shown") or 0,
        )
        return data


def cursor_params(cursor: Cursor) -> list[tuple[str, str]]:
    """The query parameters that carry `cursor` (the inverse of TimelineQueryForm)."""
    params = [("before", cursor.before.isoformat())]
    params += [("seen", digest) for digest in cursor.seen]
    params.append(("pages", ",".join(str(p) for p in cursor.pages)))
    if cursor.counts:
        params.append(("counts", ",".join("-" if c is None else str(c) for c in cursor.counts)))
    params.append(("shown", str(cursor.shown)))
    return params


class ContactSearchForm(forms.Form):
    """The find page's query: an organisation and what to look for in it."""

    org = forms.CharField(max_length=128, error_messages={"required": "Choose an organisation."})
    q = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: Any, org_ids: Collection[str] | None, **kwargs: Any) -> None:
        """`org_ids`: the organisations this user may search; None means any (superusers)."""
        super().__init__(*args, **kwargs)
        self.org_ids = org_ids

    def clean_org(self) -> str:
        org: str = self.cleaned_data["org"]
        if self.org_ids is not None and org not in self.org_ids:
            raise forms.ValidationError("You cannot see this organisation.", code="denied")
        if not is_valid_path_part(org):
            raise forms.ValidationError("An organisation ID has only letters, digits, “-” and “_”.", code="invalid")
        return org
