"""The card templates (Jinja2, templates/jinja2/cards/) as seen from the Django page templates: the
feed's cards, a page's spans, and the pieces the header and the find page share with the cards."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from django import template
from django.template import engines
from jinja2 import Environment
from markupsafe import Markup

from timeline_site.invent.types import Segment
from timeline_site.timeline.display import Entry

register = template.Library()


@cache
def _cards() -> Environment:
    env: Environment = engines["cards"].env  # type: ignore[attr-defined]
    return env


def _render(name: str, **context: Any) -> Markup:
    return Markup(_cards().get_template(name).render(**context))  # noqa: S704 - an autoescaping template


@register.simple_tag
def activity_cards(entries: Iterable[Entry], total: int | None) -> Markup:
    """The cards of one page; aria-setsize is -1 when Invent did not say how many there are."""
    return _render("cards/feed.html", entries=entries, set_size=-1 if total is None else total)


@register.simple_tag
def span_notes(entries: Iterable[Entry]) -> Markup:
    return _render("cards/span_notes.html", entries=entries)


def _piece(name: str, *args: Any) -> Markup:
    macro = getattr(_cards().get_template("cards/pieces.html").module, name)
    return Markup(macro(*args))  # noqa: S704 - a macro of an autoescaping template


@register.simple_tag
def segment_chip(segment: Segment) -> Markup:
    return _piece("segment_chip", segment)


@register.simple_tag
def avatar(initials: str, url: str | None, size: int = 32, extra_class: str = "") -> Markup:
    return _piece("avatar", initials, url, size, extra_class)


@register.simple_tag
def when(at: Any, relative: str, exact: str) -> Markup:
    return _piece("when", at, relative, exact)
