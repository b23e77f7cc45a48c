"""The timeline's filters in words: the actor chips' labels, "Showing: Notes, AI assistant" for print,
and what a page that stopped looking found none of ("No more AI-assistant activity ...")."""

from __future__ import annotations

from collections.abc import Collection

from timeline_site.invent.kinds import KINDS
from timeline_site.invent.types import ACTOR_KINDS, ActorKind

ACTOR_LABELS: dict[ActorKind, str] = {"staff": "Staff", "assistant": "AI assistant", "system": "System"}
ACTOR_CHOICES: list[tuple[str, str]] = [(kind, ACTOR_LABELS[kind]) for kind in ACTOR_KINDS]
_ACTIVITY_BY: dict[str, str] = {"staff": "staff activity", "assistant": "AI-assistant activity",
                                "system": "system activity"}  # fmt: skip


def filters_in_words(types: Collection[str], actors: Collection[str]) -> str:
    """ "Showing: Notes, Files, AI assistant", or "Showing: all activity", in the chips' order."""
    labels = [kind.label for kind in KINDS.values() if kind.value in types]
    labels += [label for kind, label in ACTOR_CHOICES if kind in actors]
    return "Showing: " + (", ".join(labels) if labels else "all activity")


def sought_in_words(types: Collection[str], actors: Collection[str]) -> str:
    """What a filtered page looked for: "AI-assistant activity" (of these types), else "matching activity"."""
    if len(set(actors)) != 1:
        return "matching activity"
    words = _ACTIVITY_BY.get(next(iter(actors)), "matching activity")
    return f"{words} of these types" if types else words
