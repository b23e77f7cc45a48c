"""The registry of activity kinds (timeline_site/invent/kinds.py): every kind has its card, its icon and
its filter chip, pairs are read from it, and a kind it does not know gets the generic card."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines

from timeline_site.invent import types
from timeline_site.invent.kinds import (
    GENERIC_KIND,
    KINDS,
    KNOWN_ACTIVITY_TYPES,
    PAIR_OF_TYPE,
    PAIRS,
    SPAN_TYPES,
    SpanState,
    kind_of,
)
from timeline_site.invent.types import Activity
from timeline_site.timeline.display import build_entries
from timeline_site.timeline.forms import TimelineQueryForm
from timeline_site.timeline.templatetags.timeline_tags import activity_cards

CARDS_DIR = Path(settings.BASE_DIR) / "templates" / "jinja2" / "cards"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def card(activity_type: str) -> str:
    activity = Activity(id="a1", type=activity_type, created_at=NOW)
    return str(activity_cards(build_entries([activity], offset=0, tz=UTC, now=NOW, previous=None), 1))


@pytest.mark.parametrize("kind", [*KINDS.values(), GENERIC_KIND], ids=lambda k: k.value or "generic")
def test_every_kind_has_a_card_template_that_exists_and_loads(kind: object) -> None:
    template = kind.template  # type: ignore[attr-defined]
    assert (CARDS_DIR / template).is_file()
    engines["cards"].get_template(f"cards/{template}")  # it compiles


@pytest.mark.parametrize("activity_type", KNOWN_ACTIVITY_TYPES)
def test_every_known_type_is_its_own_kind_with_its_icon_in_the_stylesheet(activity_type: str) -> None:
    kind = kind_of(activity_type)
    assert kind is KINDS[activity_type] and kind.value == activity_type and kind.label and kind.title
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    assert re.search(rf"\.icon-{re.escape(kind.icon)}\s*\{{", css), f"no .icon-{kind.icon} in app.css"
    markup = card(activity_type)
    assert f'class="card-icon icon-{kind.icon}"' in markup and f">{kind.title}</h3>" in markup


def test_known_types_are_the_registry_and_still_importable_from_types() -> None:
    assert types.KNOWN_ACTIVITY_TYPES is KNOWN_ACTIVITY_TYPES and tuple(KINDS) == KNOWN_ACTIVITY_TYPES
    assert len(KNOWN_ACTIVITY_TYPES) == 8


def test_an_unknown_type_gets_the_generic_card() -> None:
    assert kind_of("contact_merged") is GENERIC_KIND and kind_of("") is GENERIC_KIND
    markup = card("contact_merged")
    assert "activity-unknown" in markup and "icon-generic" in markup
    assert '<h3 class="card-title" id="t-1">Unrecognised activity: Contact merged</h3>' in markup
    assert "An activity of a kind this dashboard does not know yet." in markup


def test_the_filter_offers_every_kind_by_its_label_and_nothing_else() -> None:
    field = TimelineQueryForm().fields["type"]
    assert list(field.choices) == [(k.value, k.label) for k in KINDS.values()]  # type: ignore[attr-defined]
    assert not TimelineQueryForm({"type": ["contact_merged"]}).is_valid()
    assert TimelineQueryForm({"type": list(KINDS)}).is_valid()


def test_each_state_is_opened_by_one_kind_and_closed_by_another() -> None:
    assert {pair.state for pair in PAIRS} == set(SpanState)
    assert {(p.state, p.opener, p.closer) for p in PAIRS} == {
        (SpanState.BLOCKED, "contact_blocked", "contact_unblocked"),
        (SpanState.UNSUBSCRIBED, "contact_unsubscribed", "contact_resubscribed"),
        (SpanState.SEGMENT, "segment_added", "segment_removed"),
    }
    assert [p.per_segment for p in PAIRS if p.per_segment] == [True]
    assert SPAN_TYPES == {t for p in PAIRS for t in (p.opener, p.closer)} == set(PAIR_OF_TYPE)
    assert all(PAIR_OF_TYPE[p.opener] is p and PAIR_OF_TYPE[p.closer] is p for p in PAIRS)
    assert "note_created" not in SPAN_TYPES and "file_uploaded" not in SPAN_TYPES


@pytest.mark.parametrize("activity_type", sorted(SPAN_TYPES))
def test_paired_kinds_reserve_a_line_for_their_span(activity_type: str) -> None:
    assert '<p id="span-1" class="span-note span-empty"></p>' in card(activity_type)
