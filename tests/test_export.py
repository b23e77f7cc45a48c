"""Export: a contact's whole timeline as CSV or JSON, streamed as it is read, on the embedded demo Invent."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.test_actor_filter import upstream
from timeline_site.demo_invent.models import DemoContact
from timeline_site.demo_invent.seed import FORMULA_NOTE, add_activities
from timeline_site.invent import export as export_service
from timeline_site.invent.client import InventClient
from timeline_site.invent.errors import InventRateLimited, InventUnavailable
from timeline_site.timeline.export_files import CSV_COLUMNS, FORMULA_STARTS
from timeline_site.timeline.models import TimelineView

pytestmark = pytest.mark.django_db
csv.field_size_limit(1 << 24)  # the hostile contact's 200 KB note is one cell


def export_url(contact_id: str, org_id: str = "northwind") -> str:
    return reverse("contact_export", args=[org_id, contact_id])


def body(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse), type(response)
    return b"".join(response.streaming_content).decode()


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def activity_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    original = InventClient.get_json

    def counting(self: InventClient, path: str, params: Any = None) -> Any:
        calls.append({"path": path, **dict(params or {})})
        return original(self, path, params)

    monkeypatch.setattr(InventClient, "get_json", counting)
    return calls


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The export's pauses on a clock of their own: a pause is recorded, not slept."""
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(export_service, "sleep", sleep)
    monkeypatch.setattr(export_service, "monotonic", lambda: clock[0])
    return slept


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    logging.disable(logging.INFO)  # a heavy export logs each of its 52 upstream calls
    yield
    logging.disable(logging.NOTSET)


# --- What is in the file -----------------------------------------------------------


def test_csv_of_the_heavy_contact_is_every_upstream_id_in_order(
    staff_client: Client, activity_calls: list[dict[str, Any]]
) -> None:
    response = staff_client.get(export_url("ct_heavy"), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="ct_heavy-timeline-{today}.csv"'
    rows = csv_rows(body(response))
    assert tuple(rows[0]) == CSV_COLUMNS
    expected = [a.id for a in upstream("northwind", "ct_heavy")]
    assert len(expected) == 5200
    assert [row[0] for row in rows[1:]] == expected  # each once, newest first, nothing after the last
    assert {len(row) for row in rows} == {len(CSV_COLUMNS)}
    assert len(activity_calls) == 52 and {c["take"] for c in activity_calls} == {100}  # 100 a page: fewest calls


def test_csv_cells_say_who_when_and_what(staff_client: Client) -> None:
    rows = csv_rows(body(staff_client.get(export_url("ct_ada"), {"format": "csv"})))
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    by_id = {a.id: a for a in upstream("northwind", "ct_ada")}
    assert [r["id"] for r in records] == list(by_id)
    for record in records:
        activity = by_id[record["id"]]
        assert record["type"] == activity.type
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", record["created_at"])
        assert record["actor_kind"] == activity.actor_kind
    note = next(r for r in records if r["type"] == "note_created" and r["file_names"])
    assert note["note_text"] and note["file_urls"] and note["actor_name"]
    segment = next(r for r in records if r["type"] == "segment_added")
    assert segment["segment"] and segment["summary"] == f"Added to segment: {segment['segment']}"
    unsubscribe = next(r for r in records if r["type"] == "contact_unsubscribed")
    assert unsubscribe["broadcast"] and unsubscribe["reason"] and unsubscribe["actor_kind"] == "system"


def test_json_of_the_ordinary_contact_keeps_every_typed_record(staff_client: Client) -> None:
    response = staff_client.get(export_url("ct_ada"), {"format": "json"})
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    data = json.loads(body(response))
    expected = upstream("northwind", "ct_ada")
    assert [a["id"] for a in data["activities"]] == [a.id for a in expected] and len(expected) == 60
    assert data["complete"] is True and data["count"] == 60 and data["skipped"] == 0
    assert data["org_id"] == "northwind" and data["contact_id"] == "ct_ada"
    first = data["activities"][0]
    assert set(first) >= {"id", "type", "created_at", "actor_kind", "actor", "assistant", "segment", "broadcast",
                          "note", "file", "metadata"}  # fmt: skip
    assert first["created_at"].endswith("Z")
    note = next(a for a in data["activities"] if a["note"] and a["note"]["attachments"])
    assert {"filename", "url", "size", "mimetype"} <= set(note["note"]["attachments"][0])


def test_filters_are_kept(staff_client: Client) -> None:
    rows = csv_rows(body(staff_client.get(export_url("ct_ada"), {"format": "csv", "type": "note_created"})))
    expected = [a.id for a in upstream("northwind", "ct_ada") if a.type == "note_created"]
    assert [row[0] for row in rows[1:]] == expected and {row[1] for row in rows[1:]} == {"note_created"}

    data = json.loads(body(staff_client.get(export_url("ct_heavy"), {"format": "json", "by": "assistant",
                                                                     "type": "segment_added"})))  # fmt: skip
    expected = [a.id for a in upstream("northwind", "ct_heavy") if a.type == "segment_added"
                and a.actor_kind == "assistant"]  # fmt: skip
    assert [a["id"] for a in data["activities"]] == expected and len(expected) > 100
    assert data["filters"] == {"type": ["segment_added"], "by": ["assistant"]}


def test_no_cell_of_the_hostile_contact_is_a_formula(staff_client: Client) -> None:
    text = body(staff_client.get(export_url("ct_hostile"), {"format": "csv"}))
    rows = csv_rows(text)
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    assert "'" + FORMULA_NOTE in cells  # the note is there, defused
    assert any("<script>" in cell for cell in cells)  # hostile text is kept as text, not dropped
    # Items Invent sent that could not be read are not silently missing: the file says so.
    assert rows[-1][0].startswith("Note: 3 entries from Invent could not be read")

    data = json.loads(body(staff_client.get(export_url("ct_hostile"), {"format": "json"})))
    assert any(a["note"] and a["note"]["content"] == FORMULA_NOTE for a in data["activities"])  # JSON keeps it as is
    assert data["skipped"] == 3


def test_a_feed_growing_during_the_export_still_gives_each_activity_once(staff_client: Client) -> None:
    expected = [a.id for a in upstream("northwind", "ct_heavy")]
    response = staff_client.get(export_url("ct_heavy"), {"format": "csv"})
    assert isinstance(response, StreamingHttpResponse)
    chunks = iter(response.streaming_content)
    parts = [next(chunks)]
    add_activities(DemoContact.objects.get(org_id="northwind", contact_id="ct_heavy"), count=150)
    parts += list(chunks)
    ids = [row[0] for row in csv_rows(b"".join(parts).decode())[1:]]
    assert ids == expected


def test_memory_stays_flat_for_the_5200_activity_contact(staff_client: Client, settings: Any) -> None:
    # Without the page cache, whose copies are the cache's memory, not the export's.
    settings.INVENT_CACHE_SECONDS = 0

    def peak_while_reading(contact_id: str, **query: str) -> tuple[int, int]:
        tracemalloc.start()
        try:
            response = staff_client.get(export_url(contact_id), {"format": "csv", **query})
            size = sum(len(chunk) for chunk in response.streaming_content)
            return tracemalloc.get_traced_memory()[1], size
        finally:
            tracemalloc.stop()

    peak_while_reading("ct_ada")  # imports and first-use caches
    settings.TIMELINE_EXPORT_MAX_CALLS = 5
    small, small_size = peak_while_reading("ct_heavy")  # the first 600 activities: 6 pages, then it stops
    settings.TIMELINE_EXPORT_MAX_CALLS = 1000
    large, large_size = peak_while_reading("ct_heavy")  # all 5,200 activities: 52 pages
    print(f"peak {small / 1e6:.2f} MB for {small_size} bytes, {large / 1e6:.2f} MB for {large_size} bytes")
    assert large_size > 8 * small_size
    assert large < 20 * 1024 * 1024
    # Flat: ten times the activities, about the same memory. A file held whole (or its activities)
    # would need at least the difference in size at once.
    assert large - small < (large_size - small_size) / 2


# --- Access, validation, the audit trail ---------------------------------------------


def test_an_export_is_recorded_every_time_and_apart_from_views(staff_client: Client, staff_user: Any) -> None:
    for _ in range(2):
        body(staff_client.get(export_url("ct_ada"), {"format": "csv"}))
    exports = TimelineView.objects.filter(user=staff_user, contact_id="ct_ada", action="export")
    assert exports.count() == 2 and exports.first().org_id == "northwind"  # type: ignore[union-attr]
    staff_client.get(reverse("contact_timeline", args=["northwind", "ct_ada"]))
    assert TimelineView.objects.filter(user=staff_user, contact_id="ct_ada", action="view").count() == 1
    assert "exported northwind/ct_ada" in str(exports.first())


def test_a_denied_org_is_not_found_without_an_upstream_call(activity_calls: list[dict[str, Any]]) -> None:
    outsider = get_user_model().objects.create_user(username="outsider", password="outsider-pass-123")
    client = Client()
    client.force_login(outsider)
    response = client.get(export_url("ct_ada"), {"format": "csv"})
    assert response.status_code == 404
    assert activity_calls == [] and not TimelineView.objects.filter(user=outsider).exists()


def test_signed_out_goes_to_the_sign_in_form(activity_calls: list[dict[str, Any]]) -> None:
    response = Client().get(export_url("ct_ada"), {"format": "csv"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert activity_calls == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "Say which format to export"),
        ({"format": "xlsx"}, "is not an export format"),
        ({"format": "csv", "by": "robot"}, "is not who did an activity"),
        ({"format": "csv", "type": "nope"}, "is not an activity type"),
    ],
)
def test_a_bad_export_link_is_400_before_any_upstream_call(
    staff_client: Client, activity_calls: list[dict[str, Any]], query: dict[str, str], message: str
) -> None:
    response = staff_client.get(export_url("ct_ada"), query)
    assert response.status_code == 400 and message in response.content.decode()
    assert activity_calls == []


def test_head_sends_the_headers_without_reading_or_recording(
    staff_client: Client, staff_user: Any, activity_calls: list[dict[str, Any]]
) -> None:
    response = staff_client.head(export_url("ct_ada"), {"format": "csv"})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert activity_calls == [] and not TimelineView.objects.filter(user=staff_user).exists()


def test_an_unknown_contact_is_an_error_page_not_a_broken_file(staff_client: Client) -> None:
    response = staff_client.get(export_url("ct_nobody"), {"format": "csv"})
    assert response.status_code == 404 and "Contact not found" in response.content.decode()


def test_the_page_links_to_the_export_with_its_filters(staff_client: Client) -> None:
    html = staff_client.get(reverse("contact_timeline", args=["northwind", "ct_ada"]), {"type": "note_created"})
    text = html.content.decode()
    assert re.search(r'<a [^>]*href="/orgs/northwind/contacts/ct_ada/export/\?type=note_created&amp;format=csv"', text)
    assert re.search(r'href="/orgs/northwind/contacts/ct_ada/export/\?type=note_created&amp;format=json"', text)


# --- The shared budget and failures ----------------------------------------------


def test_the_export_pauses_while_the_shared_budget_is_nearly_spent(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, no_waiting: list[float], settings: Any
) -> None:
    readings = iter([settings.INVENT_BUDGET_PER_MINUTE] * 6)
    monkeypatch.setattr(export_service, "budget_used", lambda prefix=None: 0 if prefix else next(readings, 0))
    rows = csv_rows(body(staff_client.get(export_url("ct_heavy"), {"format": "csv"})))
    assert len(rows) == 5201  # all of it, after waiting
    assert sum(no_waiting) == pytest.approx(6 * export_service.PAUSE_STEP_SECONDS)


def test_the_export_leaves_the_users_own_pages_a_part_of_their_share(
    staff_client: Client, staff_user: Any, no_waiting: list[float], settings: Any
) -> None:
    settings.INVENT_BUDGET_PER_USER_PER_MINUTE = 20  # 16 calls (80 %) and the export waits for the minute to slide
    rows = csv_rows(body(staff_client.get(export_url("ct_heavy"), {"format": "csv"})))
    assert rows[-1][0].startswith("Export incomplete: Invent's request budget stayed nearly used up")
    assert len(rows) == 1 + 1600 + 1  # the first page, then fifteen more: 16 of the user's 20 calls
    assert staff_client.get(reverse("contact_timeline", args=["northwind", "ct_ada"])).status_code == 200


def test_a_budget_that_stays_spent_ends_the_export_with_the_reason_on_its_last_line(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, no_waiting: list[float], settings: Any
) -> None:
    monkeypatch.setattr(
        export_service, "budget_used", lambda prefix=None: 0 if prefix else settings.INVENT_BUDGET_PER_MINUTE
    )
    rows = csv_rows(body(staff_client.get(export_url("ct_heavy"), {"format": "csv"})))
    assert len(rows) == 1 + 100 + 1  # the header, the first page (read before answering), the reason
    assert rows[-1][0].startswith("Export incomplete: Invent's request budget stayed nearly used up for 60 seconds")
    assert rows[-1][0].endswith("stopped after 100 activities.")
    assert sum(no_waiting) <= export_service.MAX_PAUSE_SECONDS + 1


def test_invent_failing_midway_is_said_on_the_last_line(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.INVENT_CACHE_SECONDS = 0
    original = InventClient.get_json
    calls = [0]

    def failing_after_three(self: InventClient, path: str, params: Any = None) -> Any:
        calls[0] += 1
        if calls[0] > 3:
            raise InventUnavailable("Invent is not answering right now.")
        return original(self, path, params)

    monkeypatch.setattr(InventClient, "get_json", failing_after_three)
    text = body(staff_client.get(export_url("ct_heavy"), {"format": "json"}))
    last = text.rstrip("\n").splitlines()[-1]
    assert '"complete": false' in last
    assert "Export incomplete: Invent is not answering right now; stopped after 300 activities." in last
    data = json.loads(text)
    assert data["count"] == 300 and len(data["activities"]) == 300

    calls[0] = 0
    rows = csv_rows(body(staff_client.get(export_url("ct_heavy"), {"format": "csv"})))
    assert rows[-1] == ["Export incomplete: Invent is not answering right now; stopped after 300 activities."]


def test_invent_saying_not_now_is_waited_for(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch, no_waiting: list[float], settings: Any
) -> None:
    settings.INVENT_CACHE_SECONDS = 0
    original = InventClient.get_json
    calls = [0]

    def limited_once(self: InventClient, path: str, params: Any = None) -> Any:
        calls[0] += 1
        if calls[0] == 3:
            raise InventRateLimited(7)
        return original(self, path, params)

    monkeypatch.setattr(InventClient, "get_json", limited_once)
    rows = csv_rows(body(staff_client.get(export_url("ct_ada"), {"format": "csv", "type": "note_created"})))
    assert len(rows) == 1 + 28
    rows = csv_rows(body(staff_client.get(export_url("ct_heavy"), {"format": "csv"})))
    assert len(rows) == 5201 and no_waiting == [7.0]


def test_the_export_has_a_cap_of_its_own(staff_client: Client, settings: Any) -> None:
    settings.TIMELINE_EXPORT_MAX_CALLS = 3
    rows = csv_rows(body(staff_client.get(export_url("ct_heavy"), {"format": "csv"})))
    assert len(rows) == 1 + 400 + 1  # the first page in the request, three more in the export's own allowance
    assert rows[-1][0] == (
        "Export incomplete: the export reached its limit of 3 calls to Invent; stopped after 400 activities."
    )


def test_the_admin_lists_and_filters_exports(staff_client: Client, staff_user: Any) -> None:
    body(staff_client.get(export_url("ct_ada"), {"format": "json"}))
    admin = get_user_model().objects.create_superuser(username="auditor", password="auditor-pass-123")
    client = Client()
    client.force_login(admin)
    html = client.get(reverse("admin:timeline_timelineview_changelist"), {"action__exact": "export"}).content.decode()
    assert "ct_ada" in html and "exported" in html
    empty = client.get(reverse("admin:timeline_timelineview_changelist"), {"action__exact": "view"}).content.decode()
    assert "ct_ada" not in empty
