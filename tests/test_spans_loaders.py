"""Where a page's spans are asked from: an append-only box, never the pager the next page replaces.

If the next page replaces #pager (out of band) before a loader inside it has its answer, htmx looks for
the answer's targets from a detached element and drops them (htmx:oobErrorNoTarget). The browser side
is tests/browser/test_paging.py::test_spans_of_pages_scrolled_past_quickly_all_land_in_their_cards.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
HEAVY = reverse("contact_timeline", args=["northwind", "ct_heavy"])
HX = {"HTTP_HX_REQUEST": "true"}
LOADER = r'<div class="spans-loader" data-hx-get="[^"]+" data-hx-trigger="load" data-hx-swap="none"></div>'


def pager(html: str) -> str:
    match = re.search(r'<div id="pager".*?\n</div>', html, flags=re.S)
    assert match, "no pager"
    return match.group(0)


def older_link(html: str) -> str:
    match = re.search(r'<a class="button older" href="([^"]+)"', html)
    assert match, "no older page"
    return match.group(1).replace("&amp;", "&")


def test_the_first_pages_loader_is_in_the_append_only_box(staff_client: Client) -> None:
    html = staff_client.get(HEAVY).content.decode()
    assert re.search(rf'<div id="page-spans" hidden>{LOADER}</div>', html)
    assert len(re.findall(r'class="spans-loader"', html)) == 1
    assert "spans-loader" not in pager(html)


def test_an_appended_pages_loader_is_added_to_the_box_not_put_in_the_pager(staff_client: Client) -> None:
    fragment = staff_client.get(older_link(staff_client.get(HEAVY).content.decode()), **HX).content.decode()
    assert re.search(rf'<div id="page-spans" data-hx-swap-oob="beforeend">{LOADER}</div>', fragment)
    assert len(re.findall(r'class="spans-loader"', fragment)) == 1
    replaced = pager(fragment)
    assert 'data-hx-swap-oob="true"' in replaced and "spans-loader" not in replaced
    # The next page after it does the same: each page's loader is added, none replaced.
    again = staff_client.get(older_link(fragment), **HX).content.decode()
    assert re.search(rf'<div id="page-spans" data-hx-swap-oob="beforeend">{LOADER}</div>', again)
