"""Random and hostile upstream data through the whole stack: the page always renders.

A seeded generator builds activity pages and contact records out of every JSON
shape (wrong types, nulls, huge and odd values, unknown types), served by a fake
Invent at the HTTP layer; the real client, parser, service, views and templates
run on them. Failures must be skipped items or clear messages, never a 500.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.test import Client, override_settings

BASE = "https://random-invent.test"
TYPES = [
    *("note_created", "file_uploaded", "segment_added", "segment_removed", "contact_blocked"),
    *("contact_unblocked", "contact_unsubscribed", "contact_resubscribed", "contact_merged", "", "x" * 300),
]
pytestmark = pytest.mark.django_db


def junk(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, hostile strings and odd dates included (nesting bounded)."""
    choice = rng.randrange(13 if depth < 2 else 10)
    if choice == 10:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(3))]
    if choice == 11:
        keys = ["id", "name", "content", "file_url", "color", "boards"]
        return {rng.choice(keys): junk(rng, depth + 1) for _ in range(3)}
    if choice == 12:
        return rng.choice(["2026-11-01T10:00:00Z", "2026-13-40T99:00:00Z", "yesterday", "2026-11-01T10:00:00+05:30"])
    return [
        None, True, -1, 2**70, 3.5, "", "<script>alert(1)</script>", "\u202egnp.exe", "lone \ud800 surrogate\x00",
        rng.choice(["javascript:alert(1)", "https://example.com/a.png", "//evil.test/x", "data:,x", "/ok.png"]),
    ][choice]  # fmt: skip


def maybe(rng: random.Random, good: Any) -> Any:
    return good if rng.random() < 0.6 else junk(rng)


def activity(rng: random.Random, n: int) -> Any:
    if rng.random() < 0.05:
        return junk(rng)
    return {
        "id": maybe(rng, f"a{n}"),
        "type": rng.choice(TYPES),
        "created_at": maybe(rng, f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T10:{n % 60:02d}:00Z"),
        "actor": maybe(rng, {"id": "u1", "name": maybe(rng, "Grace"), "avatar": junk(rng)}),
        "assistant": maybe(rng, None),
        "segment": maybe(rng, {"id": "s", "name": maybe(rng, "VIP"), "color": junk(rng), "boards": junk(rng)}),
        "broadcast": maybe(rng, {"id": "b", "name": junk(rng)}),
        "note": maybe(rng, {"id": "n", "content": junk(rng), "attachments": [
            {"id": junk(rng), "file_filename": junk(rng), "file_size": junk(rng), "file_mimetype": junk(rng),
             "file_url": junk(rng)} for _ in range(rng.randrange(4))]}),
        "file": maybe(rng, {"id": "f", "file_filename": junk(rng), "file_size": junk(rng), "file_url": junk(rng)}),
        "metadata": maybe(rng, {"reason": junk(rng), "feedback": junk(rng), "nested": {"a": [1, 2]}}),
        "unexpected": junk(rng),
    }  # fmt: skip


def contact(rng: random.Random) -> Any:
    return {
        "id": "ct_rand", "name": junk(rng), "blocked": junk(rng), "unsubscribed": junk(rng),
        "blocked_at": junk(rng), "unsubscribed_at": junk(rng), "unsubscribe_reason": junk(rng),
        "channels": [{"id": junk(rng), "type": junk(rng), "email": junk(rng), "phone": junk(rng),
                      "avatar": junk(rng)} for _ in range(rng.randrange(3))],
        "segments": junk(rng),
    }  # fmt: skip


@pytest.fixture
def random_invent(request: pytest.FixtureRequest) -> Iterator[random.Random]:
    # A different, reproducible stream of data per round (FUZZ_SEED picks another family).
    rng = random.Random(f"{os.environ.get('FUZZ_SEED', '20261130')}:{request.node.name}")
    with (
        override_settings(INVENT_API_URL=BASE, INVENT_API_KEY="k", DEMO_INVENT_ENABLED=False, INVENT_CACHE_SECONDS=0,
                          INVENT_PARALLEL_FETCH=False),
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock,
    ):  # fmt: skip

        def activities(request: Any) -> tuple[int, dict[str, str], str]:
            items = [activity(rng, n) for n in range(rng.randrange(0, 60))]
            headers = rng.choice([{}, {"pagination-count": str(rng.randrange(200))}, {"pagination-count": "x"}])
            return 200, headers, json.dumps(items)

        mock.add_callback(responses.GET, re.compile(BASE + r"/orgs/[^/]+/contacts/[^/]+/activities.*"),
                          callback=activities)  # fmt: skip
        mock.add_callback(responses.GET, re.compile(BASE + r"/orgs/[^/]+/contacts/[^/?]+(\?.*)?$"),
                          callback=lambda r: (200, {}, json.dumps(contact(rng))))  # fmt: skip
        yield rng


@pytest.mark.parametrize("round_", range(25))
def test_random_upstream_data_always_renders(
    staff_client: Client, staff_user: Any, random_invent: random.Random, round_: int
) -> None:
    from timeline_site.timeline.models import OrgAccess

    OrgAccess.objects.create(user=staff_user, org_id="org_rand")
    url = "/orgs/org_rand/contacts/ct_rand/"
    page = staff_client.get(url)
    assert page.status_code == 200, page.content[:500]
    html = page.content.decode()
    assert "<script>alert" not in html and 'href="javascript' not in html and 'src="javascript' not in html
    older = re.search(r'<a class="button older" href="([^"]+)"', html)
    if older:
        fragment = staff_client.get(older.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
        assert fragment.status_code == 200
    filtered = staff_client.get(url, {"type": ["note_created", "segment_added"]}, HTTP_HX_REQUEST="true",
                                HTTP_HX_TARGET="timeline")  # fmt: skip
    assert filtered.status_code == 200
