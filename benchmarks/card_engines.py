"""Card engines, measured: `make bench-cards` or `python -m benchmarks.card_engines --help`. Prints, asserts nothing.

The same 50 cards (page 1 of a demo contact, built by display.build_entries as
the views build them) are rendered three ways:

  jinja2            the production path: the `activity_cards` tag, through the
                    Jinja2 environment of Django's django.template.backends.jinja2
                    backend (templates/jinja2/cards/, autoescape on),
  django inline     one Django template, benchmarks/card_engines/feed_django.html,
                    with {% if %} branches per kind and no {% include %},
  django includes   for reference: one {% include %} per card of its kind's
                    template, which includes the shared pieces in turn
                    (benchmarks/card_engines/with_includes/).

Both Django versions are loaded by a standalone django.template.Engine
(autoescape on, cached loader as with DEBUG off), with the production filters
as a template library. The three outputs are compared as HTML, modulo
whitespace between tags and the spelling of character references (Django
writes &#x27; where Jinja2 writes &#39;), on three contacts (ct_hostile: script,
quotes, RTL, a 200 KB note, an unknown type) and with spans and place marks
filled in; a difference is printed, since timings of different markup would
compare different work. Then each renders ct_heavy's page in interleaved
rounds, timed by the wall clock and by this thread's CPU time (other processes
on the machine inflate the first, not the second). These Django templates are a
measurement, not production code: when the Jinja2 cards change, they must be
brought level again (the comparison says where).
"""

from __future__ import annotations

import argparse
import difflib
import html.parser
import logging
import math
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django import template
from django.utils.safestring import mark_safe
from jinja2 import Environment
from jinja2.nodes import EvalContext

from timeline_site.timeline.display import file_kind, humanize_type, metadata_items
from timeline_site.timeline.jinja import note_text as jinja_note_text
from timeline_site.timeline.notes import is_long_note, note_preview

HERE = Path(__file__).resolve().parent / "card_engines"
ORG = "northwind"
TIMED_CONTACT = "ct_heavy"  # 50 cards of every kind, day headers, files and long notes
CHECKED_CONTACTS = (TIMED_CONTACT, "ct_ada", "ct_hostile")  # ct_hostile: script, quotes, RTL, an unknown type
DIFF_LINES = 40
PLACE_INDEX = 3  # the card marked as the reader's place in the comparison

# --- The filters the Django copies need (the Jinja2 environment's, as a template library) ---------------

register = template.Library()


# The production filter itself (it needs a Jinja2 evaluation context, unused): a port could drift from it.
_EVAL_CONTEXT = EvalContext(Environment(autoescape=True))


@register.filter
def note_text(value: str) -> str:
    """timeline_site.timeline.jinja.note_text: escaped, links clickable, line breaks kept (already safe)."""
    return mark_safe(jinja_note_text(_EVAL_CONTEXT, value))  # noqa: S308 - the production filter escaped it


@register.filter
def meta(metadata: object, key: str) -> object:
    """metadata.get(key), as the Jinja2 card writes it (Django's dot lookup would try attributes too)."""
    return metadata.get(key) if isinstance(metadata, Mapping) else None


@register.filter
def is_text(value: object) -> bool:
    return isinstance(value, str)


@register.filter
def files_at_once(files: Sequence[object]) -> tuple[Sequence[object], Sequence[object]]:
    """A note's attachments: those shown, and those folded away (up to two at once; of more, the first).
    The Jinja2 card works this out inline; Django templates have no arithmetic."""
    at_once = 1 if len(files) > 2 else 2
    return files[:at_once], files[at_once:]


register.filter("long_note", is_long_note)
register.filter("note_preview", note_preview)
register.filter("file_kind", file_kind)
register.filter("humanize_type", humanize_type)
register.filter("dictsort_limited", metadata_items)


# --- Django set up on a throwaway database, with the demo seeded -------------------------------------------


def set_up_django(workdir: Path) -> None:
    """Production-like settings (DEBUG off: Jinja2 does not check template files for changes) on a fresh
    SQLite database, the in-process demo Invent as the upstream, and its data seeded."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="timeline_site.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"sqlite:///{workdir / 'cards.sqlite3'}",
        INVENT_API_URL="",
        REDIS_URL="",
        DEMO_INVENT_LATENCY_MS="0",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from timeline_site.demo_invent.seed import seed_demo

    seed_demo()
    # Each upstream read is logged at INFO; here that is noise between the results.
    logging.getLogger("timeline_site").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Page:
    contact: str
    entries: list[Any]  # display.Entry, typed loosely: imported only once Django is set up
    total: int | None
    with_spans: bool = False

    @property
    def label(self) -> str:
        return f"{ORG}/{self.contact}" + (", spans worked out" if self.with_spans else "")

    @property
    def set_size(self) -> int:
        return -1 if self.total is None else self.total


def first_page(contact: str, *, with_spans: bool = False) -> Page:
    """Page 1 as the views build it, in UTC, "now" as of this run, each card with its permalink: spans pending
    (the placeholders every feed is rendered with), or, for the comparison, the other branches: spans worked
    out, and one card marked as the reader's place and last visit."""
    from django.utils import timezone

    from timeline_site.invent.spans import activity_spans, streams_for_page
    from timeline_site.invent.timeline import timeline_page
    from timeline_site.timeline.display import build_entries

    page = timeline_page(org_id=ORG, contact_id=contact)
    spans = None
    if with_spans:
        streams = streams_for_page(org_id=ORG, contact_id=contact, activities=page.activities, types=(),
                                   from_top=True, complete=page.next_cursor is None)  # fmt: skip
        spans = activity_spans(org_id=ORG, contact_id=contact, activities=page.activities, streams=streams)
    entries = build_entries(page.activities, offset=page.offset, tz=timezone.get_current_timezone(),
                            now=timezone.now(), previous=None, spans=spans,
                            link=lambda activity: f"/orgs/{ORG}/contacts/{contact}/?at={activity.id}")  # fmt: skip
    if with_spans and len(entries) > PLACE_INDEX:
        entries[PLACE_INDEX] = replace(
            entries[PLACE_INDEX], place="current", place_note="This activity <moved>.", last_visit="Your last visit"
        )
    return Page(contact, entries, page.total, with_spans=with_spans)


# --- The three renderers -----------------------------------------------------------------------------------

Renderer = Callable[[Page], str]


def renderers() -> dict[str, Renderer]:
    from django.template import Context, Engine

    from timeline_site.timeline.templatetags.timeline_tags import activity_cards

    engine = Engine(dirs=[str(HERE)], libraries={"cards": "benchmarks.card_engines"})
    inline = engine.get_template("feed_django.html")
    includes = engine.get_template("with_includes/feed.html")

    def django_render(compiled: Any) -> Renderer:
        return lambda page: str(compiled.render(Context({"entries": page.entries, "set_size": page.set_size})))

    return {
        "jinja2 (production)": lambda page: str(activity_cards(page.entries, page.total)),
        "django inline": django_render(inline),
        "django includes": django_render(includes),
    }


# --- Same HTML? --------------------------------------------------------------------------------------------


class _Tokens(html.parser.HTMLParser):
    """Tags with their attributes (values decoded), and text with its whitespace collapsed; whitespace-only
    text between tags is dropped. Character references are decoded, so &#39; and &#x27; are one thing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = "".join(f" {name}={value!r}" for name, value in attrs)
        self.tokens.append(f"<{tag}{shown}>")

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text:
            self.tokens.append(text)


def normalised(markup: str) -> list[str]:
    parser = _Tokens()
    parser.feed(markup)
    parser.close()
    return parser.tokens


def differences(reference: str, other: str) -> list[str]:
    """A unified diff of the normalised tokens (empty when the two are the same HTML)."""
    a, b = normalised(reference), normalised(other)
    if a == b:
        return []
    return list(difflib.unified_diff(a, b, "jinja2", "django", n=2, lineterm=""))


def check_same(pages: Sequence[Page], render: Mapping[str, Renderer]) -> bool:
    ok = True
    for page in pages:
        outputs = {name: fn(page) for name, fn in render.items()}
        reference_name, reference = next(iter(outputs.items()))
        kinds = sorted({e.kind.template for e in page.entries})
        print(f"  {page.label}: {len(page.entries)} cards ({', '.join(kinds)})")
        for name, markup in list(outputs.items())[1:]:
            diff = differences(reference, markup)
            sizes = (
                "byte-identical"
                if markup == reference
                else f"{len(markup) / 1024:.1f} KB vs {len(reference) / 1024:.1f} KB"
            )
            verdict = "same HTML" if not diff else f"DIFFERS ({len(diff)} diff lines)"
            print(f"    {name:<20} vs {reference_name}: {verdict} ({sizes})")
            for line in diff[:DIFF_LINES]:
                print(f"      {line[:160]}")
            ok = ok and not diff
    return ok


# --- Timing ------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank, as benchmarks.timing.Series.p."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this thread's CPU time: what other processes cannot inflate


def time_renders(page: Page, render: Mapping[str, Renderer], *, renders: int, warmup: int) -> dict[str, Timings]:
    """Milliseconds per page of cards, engines interleaved render by render so drift hits all alike."""
    times = {name: Timings() for name in render}
    for round_ in range(warmup + renders):
        for name, fn in render.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            fn(page)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            if round_ >= warmup:
                times[name].wall_ms.append(wall * 1000)
                times[name].cpu_ms.append(cpu * 1000)
    return times


def report(page: Page, times: Mapping[str, Timings]) -> None:
    fastest = min(statistics.median(t.cpu_ms) for t in times.values())
    renders = len(next(iter(times.values())).wall_ms)
    print()
    print(f"  {page.label}: ms per page of {len(page.entries)} cards ({renders} renders each, after warm-up)")
    print(f"  {'engine':<22} {'median':>8} {'p95':>8} {'CPU median':>11} {'CPU per card':>13} {'x fastest (CPU)':>16}")
    for name, t in times.items():
        cpu = statistics.median(t.cpu_ms)
        print(
            f"  {name:<22} {statistics.median(t.wall_ms):8.2f} {percentile(t.wall_ms, 95):8.2f} {cpu:11.2f}"
            f" {cpu / len(page.entries) * 1000:11.0f}us {cpu / fastest:16.2f}"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.card_engines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--renders", type=int, default=300, help="timed renders per engine (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed renders per engine first (default 30)")
    args = parser.parse_args(argv)
    if not 1 <= args.renders <= 100_000 or not 0 <= args.warmup <= 10_000:
        parser.error("--renders must be in [1, 100000] and --warmup in [0, 10000]")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ct-cards-"))
    try:
        print("Card engines: preparing a throwaway database with the demo data...", flush=True)
        set_up_django(workdir)
        render = renderers()
        pages = [first_page(contact) for contact in CHECKED_CONTACTS]
        pages += [first_page(contact, with_spans=True) for contact in CHECKED_CONTACTS[:2]]
        print("Same HTML (normalised: whitespace between tags, character references decoded):")
        same = check_same(pages, render)
        print(f"  -> {'all the same' if same else 'THE OUTPUTS DIFFER: the timings compare different work'}")
        timed = pages[0]
        report(timed, time_renders(timed, render, renders=args.renders, warmup=args.warmup))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
