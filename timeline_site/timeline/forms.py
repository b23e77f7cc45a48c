"""Query-string validation for the timeline page (and the find page's search).

The paging position is one opaque, signed `cursor` parameter written by the
service (timeline_site.invent.cursor); a hand-edited or truncated one is
rejected with a 400 rather than guessed at, before anything is asked of Invent.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django import forms

from timeline_site.invent.client import is_valid_path_part
from timeline_site.invent.cursor import Cursor, CursorError, NewerCursor, decode_cursor, decode_newer_cursor
from timeline_site.invent.kinds import KINDS
from timeline_site.timeline import lookup
from timeline_site.timeline.filters import ACTOR_CHOICES
from timeline_site.timeline.place_links import ENTRY_ID, check_one_place, moment_or_error

TYPE_CHOICES: list[tuple[str, str]] = [(kind.value, kind.label) for kind in KINDS.values()]


class TimelineFilterForm(forms.Form):
    """Which activities: `type` and `by` (who did it), each repeatable, each empty for all."""

    type = forms.MultipleChoiceField(
        choices=TYPE_CHOICES,
        required=False,
        error_messages={"invalid_choice": "“%(value)s” is not an activity type this timeline can filter on."},
    )
    by = forms.MultipleChoiceField(
        choices=ACTOR_CHOICES,
        required=False,
        error_messages={"invalid_choice": "“%(value)s” is not who did an activity: use staff, assistant or system."},
    )


class TimelineExportForm(TimelineFilterForm):
    format = forms.ChoiceField(
        choices=[("csv", "CSV"), ("json", "JSON")],
        error_messages={
            "required": "Say which format to export: format=csv or format=json.",
            "invalid_choice": "“%(value)s” is not an export format: use csv or json.",
        },
    )


class TimelineQueryForm(TimelineFilterForm):
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

    # Finding your place (timeline.place_views): a permalink's entry and its time, a day, or the page above.
    entry = forms.RegexField(
        regex=ENTRY_ID, required=False, max_length=256,
        error_messages={"invalid": "This link's activity id is not one Invent gives."},
    )  # fmt: skip
    at = forms.CharField(required=False, max_length=40)
    at_time = forms.DateField(required=False, input_formats=["%Y-%m-%d"],
                              error_messages={"invalid": "“Go to date” needs a date like 2026-03-14."})  # fmt: skip
    newer = forms.CharField(required=False, max_length=4096)

    def clean_at(self) -> datetime | None:
        return moment_or_error(self.cleaned_data.get("at") or "")

    def clean_newer(self) -> NewerCursor | None:
        token: str = self.cleaned_data.get("newer") or ""
        return newer_or_error(token) if token else None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        return check_one_place(self, data)


def newer_or_error(token: str) -> NewerCursor:
    try:
        return decode_newer_cursor(token)
    except CursorError:
        raise forms.ValidationError(
            "The paging position in this link is malformed or out of date.", code="newer"
        ) from None


class LiveCheckForm(TimelineFilterForm):
    """The live check (place_views.contact_live): the filters, the newest page's top, and how many
    new activities the reader is already told of."""

    newer = forms.CharField(max_length=4096)
    seen = forms.IntegerField(required=False, min_value=0, max_value=1_000_000)

    def clean_newer(self) -> NewerCursor:
        return newer_or_error(self.cleaned_data["newer"])


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


class ContactLookupForm(TimelineFilterForm):
    """A CRM's link to a contact (`/orgs/<org>/lookup/`): an `email`, a `phone` or a free-text `q`
    (the first one given is looked up, so one link can carry both of a record's fields), and the
    timeline's own filters (validated as the timeline validates them) and `embed` to open it with."""

    # Not stripped: a leading or inner space may be an unencoded "+" (see timeline.lookup).
    email = forms.CharField(required=False, max_length=320, strip=False)
    phone = forms.CharField(required=False, max_length=64, strip=False)
    q = forms.CharField(required=False, max_length=200, strip=False)
    embed = forms.BooleanField(required=False)

    def __init__(self, *args: Any, region: str, **kwargs: Any) -> None:
        """`region`: the country of phone numbers written without a country code."""
        super().__init__(*args, **kwargs)
        self.region = region

    def clean_email(self) -> str:
        email = lookup.repaired_email(self.cleaned_data["email"])
        if email and not lookup.is_email(email):
            raise forms.ValidationError("“%(value)s” is not an e-mail address.", code="email", params={"value": email})
        return email

    def clean_phone(self) -> str:
        phone = lookup.repaired_phone(self.cleaned_data["phone"])
        if phone and not lookup.is_phone(phone):
            raise forms.ValidationError("“%(value)s” is not a phone number.", code="phone", params={"value": phone})
        return phone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data["email"]:
            data["lookup"] = lookup.email_lookup(data["email"])
        elif data["phone"]:
            data["lookup"] = lookup.phone_lookup(data["phone"], region=self.region)
        elif (found := lookup.query_lookup(data["q"], region=self.region)) is not None:
            data["lookup"] = found
        else:
            raise forms.ValidationError(
                "This link names no e-mail address, phone number or name to look up.", code="empty"
            )
        return data

    def timeline_params(self) -> list[tuple[str, str]]:
        """The query string of the timeline this lookup opens: the link's filters (every one the timeline
        takes, each repeatable), and `embed`."""
        params = [(name, value) for name in TimelineFilterForm.base_fields for value in self.cleaned_data[name]]
        return params + ([("embed", "1")] if self.cleaned_data["embed"] else [])

    def given(self) -> str:
        """What the link asked for, as typed, for the find page's search box."""
        return next((str(self.data.get(f, "")).strip() for f in ("email", "phone", "q") if self.data.get(f)), "")
