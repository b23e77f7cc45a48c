"""A fake live Invent feed at the HTTP layer (`responses`), for paging tests.

It pages a Python list newest first exactly as Invent documents, and the test
can add or delete activities between requests, as a live feed does.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import responses
from django.test import override_settings

from timeline_site.invent.parse import parse_activity
from timeline_site.invent.types import Activity

BASE = "https://fake-invent.test"
ACTIVITIES_URL = re.compile(re.escape(BASE) + r"/orgs/(?P<org>[^/]+)/contacts/(?P<contact>[^/]+)/activities")
CONTACT_URL = re.compile(re.escape(BASE) + r"/orgs/(?P<org>[^/]+)/contacts/(?P<contact>[^/?]+)(\?.*)?$")
TYPES = ["note_created", "file_uploaded", "segment_added", "contact_blocked"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeFeed:
    items: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    next_id: int = 0
    delay: float = 0.0  # seconds each answer takes, like a real network
    fail: bool = False  # answer 503 to everything
    contact: dict[str, Any] | None = None  # the contact record GET /orgs/../contacts/<id> answers (None: 404)
    contact_calls: int = 0

    def make(self, when: datetime, kind: str = "note_created") -> dict[str, Any]:
        self.next_id += 1
        return {
            "id": f"a{self.next_id:06d}",
            "type": kind,
            "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": {"id": f"n{self.next_id}", "content": f"note {self.next_id}"} if kind == "note_created" else None,
        }

    def seed(self, count: int, *, same_second_every: int = 0) -> None:
        """`count` activities, one per minute going back, cycling through TYPES."""
        for i in range(count):
            minute = i if not same_second_every else i - i % same_second_every
            self.items.append(self.make(EPOCH - timedelta(minutes=minute), TYPES[i % len(TYPES)]))
        self.sort()

    def add(self, ident: str, kind: str, when: datetime, **extra: Any) -> dict[str, Any]:
        """One activity with a chosen id, type and time (and any nested objects)."""
        item = {"id": ident, "type": kind, "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), **extra}
        self.items.append(item)
        self.sort()
        return item

    def segment(self, ident: str, kind: str, when: datetime, segment_id: str) -> dict[str, Any]:
        return self.add(ident, kind, when, segment={"id": segment_id, "name": segment_id.title(), "color": "blue"})

    def notes(self, count: int, start: datetime) -> None:
        for i in range(count):
            self.add(f"n{i:04d}", "note_created", start + timedelta(minutes=i), note={"id": f"note{i}", "content": "x"})

    def activity(self, ident: str) -> Activity:
        """The typed record of one of the feed's activities, as the client would parse it."""
        return parse_activity(next(a for a in self.items if a["id"] == ident))

    def add_newest(self, count: int) -> None:
        newest = max(datetime.fromisoformat(a["created_at"]) for a in self.items) if self.items else EPOCH
        for i in range(count):
            self.items.append(self.make(newest + timedelta(seconds=i + 1)))
        self.sort()

    def sort(self) -> None:
        self.items.sort(key=lambda a: (a["created_at"], a["id"]), reverse=True)

    def callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.calls.append(query)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            return 503, {}, "{}"
        page, take = int(query.get("page", 1)), min(int(query.get("take", 100)), 100)
        selected = [a for a in self.items if "type" not in query or a["type"] == query["type"]]
        body = selected[(page - 1) * take : page * take]
        headers = {"pagination-count": str(len(selected)), "pagination-page": str(page), "pagination-take": str(take)}
        return 200, headers, json.dumps(body)

    def contact_callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.contact_calls += 1
        if self.fail:
            return 503, {}, "{}"
        if self.contact is None:
            return 404, {}, json.dumps({"message": "Not found"})
        return 200, {}, json.dumps(self.contact)

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.GET, ACTIVITIES_URL, callback=self.callback)
        mock.add_callback(responses.GET, CONTACT_URL, callback=self.contact_callback)


@contextlib.contextmanager
def serving_fake_feed(**settings: Any) -> Iterator[FakeFeed]:
    """A new FakeFeed as the configured Invent (not the demo; one stream at a time, so the calls come in
    order), with `settings` on top (page size, cache lifetime, budget)."""
    fake = FakeFeed()
    with (
        override_settings(
            INVENT_API_URL=BASE, INVENT_API_KEY="k", DEMO_INVENT_ENABLED=False, INVENT_PARALLEL_FETCH=False, **settings
        ),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):
        fake.install(mock)
        yield fake
