"""The template side of timeline_site.timeline.cards: the cards and the segment
chip are built in Python (see that module for why), and reach templates here."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.safestring import SafeString, mark_safe

from timeline_site.invent.types import Segment
from timeline_site.timeline import cards
from timeline_site.timeline.display import Entry

register = template.Library()


@register.simple_tag
def activity_cards(entries: Iterable[Entry], total: int | None) -> SafeString:
    return cards.articles(entries, total=total)


@register.simple_tag
def span_notes(entries: Iterable[Entry]) -> SafeString:
    return cards.span_notes(entries)


@register.simple_tag
def segment_chip(segment: Segment) -> SafeString:
    return mark_safe(cards.segment_chip(segment))  # noqa: S308 - segment_chip escapes
