"""The Jinja2 environment of the card templates (templates/jinja2/cards/), set up through Django's own
Jinja2 backend, so autoescape is on and every value from Invent is escaped unless a template says otherwise
(none does). The filters are Django's own, so cards read the same as the Django templates around them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.template import defaultfilters
from django.utils.html import urlize
from jinja2 import Environment, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from timeline_site.timeline.display import file_kind, humanize_type, metadata_items
from timeline_site.timeline.notes import NOTE_PREVIEW_CHARS, is_long_note, note_preview

# Django's urlize looks at a note word by word: the largest part of rendering a page of notes. The same
# notes are shown on every reading of a contact (each page, each colleague, each time zone and filter),
# so the linked text of a note up to this size is kept per process: the last NOTE_CACHE_ENTRIES of them
# (about ten pages of notes), a few megabytes even were every one near the limit (most are a line or two).
NOTE_CACHE_MAX_CHARS = 4096
NOTE_CACHE_ENTRIES = 512


@pass_eval_context
def note_text(context: EvalContext, value: str) -> Markup:
    """Plain text from Invent: escaped, http(s) links clickable (nofollow, new tab), line breaks kept."""
    text = str(value)
    return _kept_note_html(text) if len(text) <= NOTE_CACHE_MAX_CHARS else _note_html(text)


def _note_html(text: str) -> Markup:
    # urlize escapes the text around the links itself (autoescape=True): escaping first would hide
    # a link's edges ("<https://…>", quotes) from it, and the link would be lost or swallow them.
    linked = urlize(text, nofollow=True, autoescape=True)
    linked = linked.replace("<a ", '<a target="_blank" rel="noopener noreferrer nofollow" ').replace(
        ' rel="nofollow"', ""
    )
    return Markup(defaultfilters.linebreaksbr(linked, autoescape=False))  # noqa: S704 - urlize escaped it, above


_kept_note_html = lru_cache(maxsize=NOTE_CACHE_ENTRIES)(_note_html)


def environment(**options: Any) -> Environment:
    env = Environment(**options)  # noqa: S701 - Django's backend passes autoescape=True
    env.filters.update(
        filesizeformat=defaultfilters.filesizeformat,
        truncatechars=defaultfilters.truncatechars,
        slugify=defaultfilters.slugify,
        note_text=note_text,
        note_preview=note_preview,
        file_kind=file_kind,
        humanize_type=humanize_type,
        dictsort_limited=metadata_items,
    )
    env.tests.update(long_note=is_long_note)
    env.globals.update(NOTE_PREVIEW_CHARS=NOTE_PREVIEW_CHARS)
    return env
