"""Query-string validation for the timeline page (and the find page's search).

The paging position is one opaque, signed `cursor` parameter written by the
service (timeline_site.invent.cursor); a hand-edited or truncated one is
rejected with a 400 rather than guessed at, before anything is asked of Invent.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django import forms

from timeline_site.invent.client import is_valid_path_part
from timeline_site.invent.cursor import Cursor, CursorError, decode_cursor
from timeline_site.invent.kinds import KINDS

TYPE_CHOICES: list[tuple[str, str]] = [(kind.value, kind.label) for kind in KINDS.values()]


class TimelineQueryForm(forms.Form):
    type = forms.MultipleChoiceField(
        choices=TYPE_CHOICES,
        required=False,
        error_messages={"invalid_choice": "“%(value)s” is not an activity type this timeline can filter on."},
    )
    cursor = forms.CharField(required=False, max_length=4096)

    def clean_cursor(self) -> Cursor | None:
        token: str = self.cleaned_data.get("cursor") or ""
        if not token:
            return None
        try:
            return decode_cursor(token)
        except CursorError:
            raise forms.ValidationError(
                "The paging position in this link is malformed or out of date.", code="cursor"
            ) from None


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
