"""The Invent client against a fake Invent at the HTTP layer (`responses`): the real
requests/parsing code runs, only the network is replaced."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from timeline_site.invent import client as client_module
from timeline_site.invent.client import ContactFilters, InventClient
from timeline_site.invent.errors import (
    InventAuthError,
    InventNotFound,
    InventRateLimited,
    InventUnavailable,
)

BASE = "https://api.invent.test"
KEY = "sk_live_SUPERSECRET_0123456789"
ACTIVITIES = f"{BASE}/orgs/c/contacts/ct_1/activities"


def activity(n: int, **extra: object) -> dict[str, object]:
    return {"id": f"act_{n}", "type": "note_created", "created_at": f"2026-11-{n:02d}T10:00:00Z", **extra}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    return slept


@pytest.fixture
def client() -> InventClient:
    return InventClient(base_url=BASE, api_key=KEY, connect_timeout=1.5, read_timeout=4.0, session=requests.Session())


def list_page(client: InventClient, **kwargs: object):
    return client.list_activities(org_id="c", contact_id="ct_1", **kwargs)  # type: ignore[arg-type]


@responses.activate
def test_success_parses_typed_page_and_sends_bearer_timeout_and_params(client: InventClient) -> None:
    responses.get(
        ACTIVITIES,
        json=[activity(3), activity(2)],
        headers={"pagination-count": "7", "pagination-page": "2", "pagination-take": "2"},
        match=[
            matchers.query_param_matcher({"page": "2", "take": "2", "type": "note_created"}),
            matchers.header_matcher({"Authorization": f"Bearer {KEY}"}),
        ],
    )
    page = list_page(client, activity_type="note_created", page=2, take=2)
    assert [a.id for a in page.items] == ["act_3", "act_2"]
    assert page.items[0].created_at == datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert (page.total, page.page, page.take, page.has_more) == (7, 2, 2, True)
    assert responses.calls[0].request.req_kwargs["timeout"] == (1.5, 4.0)


@responses.activate
def test_take_is_capped_at_100(client: InventClient) -> None:
    responses.get(ACTIVITIES, json=[], match=[matchers.query_param_matcher({"page": "1", "take": "100"})])
    page = list_page(client, take=500)
    assert page.take == 100 and page.has_more is False


@responses.activate
@pytest.mark.parametrize(
    ("headers", "count", "expected"),
    [
        ({}, 2, True),  # full page, no headers: there may be more
        ({}, 1, False),  # short page: the end
        ({"pagination-count": "4"}, 2, False),  # page 2 of 2
        ({"pagination-count": "nonsense"}, 2, True),
        ({"pagination-count": "5"}, 2, True),
    ],
)
def test_has_more_is_computed_with_or_without_headers(
    client: InventClient, headers: dict[str, str], count: int, expected: bool
) -> None:
    responses.get(ACTIVITIES, json=[activity(n) for n in range(1, count + 1)], headers=headers)
    page = list_page(client, page=2, take=2)
    assert page.has_more is expected
    assert page.total == (int(headers["pagination-count"]) if headers.get("pagination-count", "").isdigit() else None)


@responses.activate
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InventUnavailable),
        (401, InventAuthError),
        (403, InventAuthError),
        (404, InventNotFound),
        (500, InventUnavailable),
        (418, InventUnavailable),
    ],
)
def test_error_statuses_become_typed_errors(client: InventClient, status: int, error: type[Exception]) -> None:
    responses.get(ACTIVITIES, status=status, json={"statusCode": status, "message": f"echo {KEY}"})
    with pytest.raises(error) as raised:
        list_page(client)
    assert KEY not in str(raised.value) and KEY not in repr(raised.value)
    assert len(responses.calls) == 1  # no retries for these


@responses.activate
@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried_briefly_then_raise(
    client: InventClient, status: int, no_sleep: list[float]
) -> None:
    responses.get(ACTIVITIES, status=status)
    with pytest.raises(InventUnavailable) as raised:
        list_page(client)
    assert len(responses.calls) == 3
    assert sum(no_sleep) <= 2.0
    assert str(status) in str(raised.value)


@responses.activate
def test_retry_recovers_when_the_next_attempt_succeeds(client: InventClient) -> None:
    responses.get(ACTIVITIES, status=503)
    responses.get(ACTIVITIES, json=[activity(1)])
    assert [a.id for a in list_page(client).items] == ["act_1"]


@responses.activate
@pytest.mark.parametrize(("header", "expected"), [("17", 17), (None, None), ("soon", None), ("999999", 3600)])
def test_429_raises_at_once_with_retry_after(
    client: InventClient, header: str | None, expected: int | None, no_sleep: list[float]
) -> None:
    responses.get(ACTIVITIES, status=429, headers={"Retry-After": header} if header else {})
    with pytest.raises(InventRateLimited) as raised:
        list_page(client)
    assert raised.value.retry_after == expected
    assert no_sleep == [] and len(responses.calls) == 1


@responses.activate
def test_retry_after_as_http_date(client: InventClient) -> None:
    responses.get(ACTIVITIES, status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(InventRateLimited) as raised:
        list_page(client)
    assert raised.value.retry_after == 0  # a date in the past: retry now


@responses.activate
def test_timeout_is_unavailable_and_not_retried(client: InventClient) -> None:
    responses.get(ACTIVITIES, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(InventUnavailable, match="did not answer within 4 seconds"):
        list_page(client)
    assert len(responses.calls) == 1


@responses.activate
def test_refused_connection_is_retried_then_unavailable(client: InventClient, no_sleep: list[float]) -> None:
    responses.get(ACTIVITIES, body=requests.ConnectionError("Connection refused"))
    with pytest.raises(InventUnavailable, match="could not be reached"):
        list_page(client)
    assert len(responses.calls) == 3 and 0 < sum(no_sleep) <= 2.0


@responses.activate
@pytest.mark.parametrize(
    "body",
    ["<html>gateway</html>", "{not json", json.dumps({"items": []}), json.dumps("text"), "", "[" * 100_000],
)
def test_malformed_or_non_list_json_is_unavailable(client: InventClient, body: str) -> None:
    responses.get(ACTIVITIES, body=body, content_type="application/json")
    with pytest.raises(InventUnavailable):
        list_page(client)


@responses.activate
def test_unknown_types_and_null_nested_objects_are_tolerated(client: InventClient) -> None:
    responses.get(
        ACTIVITIES,
        json=[
            {"id": "a1", "type": "contact_merged", "created_at": "2026-11-01T10:00:00.123456Z", "metadata": {"x": 1}},
            {"id": "a2", "type": "note_created", "created_at": "2026-11-01T09:00:00Z", "note": None, "actor": None,
             "segment": None, "file": None, "assistant": None, "broadcast": None, "metadata": None},
            {"id": "a3", "type": "segment_added", "created_at": "2026-11-01T08:00:00Z", "extra": "ignored",
             "segment": {"id": "s1", "name": "VIP", "color": "not-a-colour", "boards": None}},
        ],
    )  # fmt: skip
    unknown, nulls, segment = list_page(client).items
    assert unknown.type == "contact_merged" and not unknown.is_known_type and unknown.metadata == {"x": 1}
    assert nulls.note is None and nulls.actor is None and nulls.metadata == {}
    assert segment.segment is not None and segment.segment.color == "neutral" and segment.segment.boards == ()


@responses.activate
def test_malformed_items_are_logged_and_skipped(client: InventClient, caplog: pytest.LogCaptureFixture) -> None:
    responses.get(
        ACTIVITIES,
        json=[activity(5), {"type": "note_created"}, "garbage", {"id": "x", "type": "t", "created_at": "yesterday"},
              activity(4)],
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        page = list_page(client)
    assert [a.id for a in page.items] == ["act_5", "act_4"]
    assert page.skipped == 3
    # One summary line for the page, saying how many and why; not one line per item.
    [record] = [r for r in caplog.records if r.name == "timeline_site.invent.parse"]
    assert record.getMessage() == (
        "Skipped 3 unreadable activity item(s) of 5 on one page: "
        "1 no usable id, 1 not an object, 1 no readable created_at"
    )


@responses.activate
def test_unsafe_urls_are_dropped_and_safe_ones_kept(client: InventClient) -> None:
    responses.get(
        ACTIVITIES,
        json=[activity(1, actor={"id": "u", "name": "Eve", "avatar": "javascript:alert(1)"},
                       note={"id": "n", "content": "x", "attachments": [
                           {"id": "f1", "file_filename": "a.png", "file_url": "data:image/png;base64,AAAA"},
                           {"id": "f2", "file_filename": "b.png", "file_url": "https://files.invent.test/b.png"},
                           {"id": "f3", "file_filename": "c.png", "file_url": "//evil.test/c.png"},
                       ]})],
    )  # fmt: skip
    item = list_page(client).items[0]
    assert item.actor is not None and item.actor.avatar is None
    assert item.note is not None
    assert [f.url for f in item.note.attachments] == [None, "https://files.invent.test/b.png", None]


@pytest.mark.parametrize("bad", ["../x", "a/b", "a%2Fb", "", "x" * 200, "a b", "é", "a\x00"])
def test_invalid_path_parts_never_reach_the_network(client: InventClient, bad: str) -> None:
    with responses.RequestsMock() as mocked, pytest.raises(InventNotFound):
        client.list_activities(org_id="c", contact_id=bad)
    assert len(mocked.calls) == 0


def test_the_key_is_not_in_the_client_repr(client: InventClient) -> None:
    assert KEY not in repr(client)


@responses.activate
def test_the_key_is_in_no_log_line(client: InventClient, caplog: pytest.LogCaptureFixture) -> None:
    responses.get(ACTIVITIES, status=503)
    responses.get(ACTIVITIES, body=requests.ConnectionError("boom"))
    responses.get(ACTIVITIES, status=500)
    with caplog.at_level(logging.DEBUG), pytest.raises(InventUnavailable):
        list_page(client)
    assert caplog.records and KEY not in caplog.text


@responses.activate
def test_list_contacts_sends_filters_and_parses(client: InventClient) -> None:
    responses.get(
        f"{BASE}/orgs/org_1/contacts",
        json=[{"id": "ct_9", "name": None, "blocked": True, "channels": [{"id": "ch", "type": "gmail",
               "user_id": "a@b.test", "email": "a@b.test", "avatar": None}], "segments": []}],
        match=[matchers.query_param_matcher({"page": "1", "take": "20", "email": "a@b.test", "status": "BLOCKED"})],
    )  # fmt: skip
    page = client.list_contacts(org_id="org_1", filters=ContactFilters(email="a@b.test", status="BLOCKED"))
    contact = page.items[0]
    assert contact.id == "ct_9" and contact.blocked and contact.display_name == "a@b.test"


@responses.activate
def test_get_contact_degrades_when_there_is_no_single_contact_get(client: InventClient) -> None:
    responses.get(f"{BASE}/orgs/c/contacts/ct_1", status=405)
    assert client.get_contact(org_id="c", contact_id="ct_1") is None
    assert client.get_contact(org_id="c", contact_id="ct_1") is None
    assert len(responses.calls) == 1  # remembered: no second useless call


@responses.activate
def test_get_contact_not_found_is_none_and_other_failures_raise(client: InventClient) -> None:
    responses.get(f"{BASE}/orgs/c/contacts/ct_1", status=404)
    responses.get(f"{BASE}/orgs/c/contacts/ct_2", status=401)
    assert client.get_contact(org_id="c", contact_id="ct_1") is None
    with pytest.raises(InventAuthError):
        client.get_contact(org_id="c", contact_id="ct_2")


@responses.activate
def test_redirects_are_not_followed(client: InventClient) -> None:
    responses.get(ACTIVITIES, status=302, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(InventUnavailable):
        list_page(client)
    assert len(responses.calls) == 1


@responses.activate
def test_surrogates_control_characters_and_deep_metadata_come_out_sendable_and_bounded(client: InventClient) -> None:
    # JSON allows a lone surrogate ("\ud800"), which UTF-8 cannot carry, and NUL, which PostgreSQL refuses.
    lone = "bad \ud800 te\x00xt\x1b"
    deep: object = "bottom"
    for _ in range(50):
        deep = {"next": deep}
    body = json.dumps(
        [{"id": "a1", "type": "note_created", "created_at": "2026-11-01T10:00:00Z",
          "actor": {"id": "u1", "name": lone, "avatar": "https://cdn.example.com/\udc00.png"},
          "note": {"id": "n1", "content": lone, "attachments": [{"id": "f1", "file_filename": lone}]},
          "metadata": {lone: lone, "deep": deep}}]
    )  # fmt: skip
    responses.get(ACTIVITIES, body=body, content_type="application/json")
    activity = list_page(client).items[0]
    texts = [activity.actor.name, activity.note.content, activity.note.attachments[0].filename]  # type: ignore[union-attr]
    assert texts == ["bad \ufffd text"] * 3
    assert activity.actor.avatar == "https://cdn.example.com/\ufffd.png"  # type: ignore[union-attr]
    assert activity.metadata["bad \ufffd text"] == "bad \ufffd text"
    json.dumps(activity.metadata).encode("utf-8")  # nothing unsendable left anywhere
    level: object = activity.metadata["deep"]
    depth = 0
    while isinstance(level, dict):
        level, depth = level["next"], depth + 1
    assert level == "…" and depth < 10
