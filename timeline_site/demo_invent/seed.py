"""Deterministic demo data for the demo Invent.

`seed_demo()` wipes and recreates every demo org, contact and activity. All
randomness comes from one `random.Random(RANDOM_SEED)` and all timestamps are
anchored at ANCHOR, so every machine gets byte-identical API responses. The
contact ids below are used in README deep links: keep them stable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from timeline_site.demo_invent.app import format_datetime
from timeline_site.demo_invent.assets import asset_path, get_asset
from timeline_site.demo_invent.models import Behaviour, DemoActivity, DemoContact, DemoOrg

ANCHOR = datetime(2026, 11, 27, 16, 0, 0, tzinfo=UTC)
RANDOM_SEED = 20261127
PARENT_ORG_ID = "northwind"
SUB_ORG_ID = "northwind-emea"
ORG_NAMES: dict[str, str] = {PARENT_ORG_ID: "Northwind Support", SUB_ORG_ID: "Northwind EMEA"}

# kind -> (org id, contact id): one contact per kind of demo situation.
DEMO_CONTACTS: dict[str, tuple[str, str]] = {
    "ordinary": (PARENT_ORG_ID, "ct_ada"),
    "heavy": (PARENT_ORG_ID, "ct_heavy"),
    "empty": (PARENT_ORG_ID, "ct_empty"),
    "hostile": (PARENT_ORG_ID, "ct_hostile"),
    "slow": (PARENT_ORG_ID, "ct_slow"),
    "flaky": (PARENT_ORG_ID, "ct_flaky"),
    "rate_limited": (PARENT_ORG_ID, "ct_ratelimited"),
    "sub_org": (SUB_ORG_ID, "ct_bruno"),
}

ACTIVITY_TYPE_WEIGHTS: dict[str, int] = {
    "note_created": 30,
    "file_uploaded": 14,
    "segment_added": 10,
    "segment_removed": 6,
    "contact_blocked": 4,
    "contact_unblocked": 6,
    "contact_unsubscribed": 4,
    "contact_resubscribed": 6,
}
_TOGGLES = {
    "contact_blocked": "contact_unblocked",
    "contact_unblocked": "contact_blocked",
    "contact_unsubscribed": "contact_resubscribed",
    "contact_resubscribed": "contact_unsubscribed",
}
BATCH_SIZE = 1000


def _iso(value: datetime) -> str:
    return format_datetime(value)


def _staff(user_id: str, name: str, email: str, avatar: str | None, seen_days_ago: float) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "email": email,
        "avatar": avatar,
        "seen_at": _iso(ANCHOR - timedelta(days=seen_days_ago)),
    }


STAFF: list[dict[str, Any]] = [
    _staff("usr_grace", "Grace Hopper", "grace@northwind.example", asset_path("avatar-grace.svg"), 0.1),
    _staff("usr_linus", "Linus Nakamura", "linus@northwind.example", asset_path("avatar-linus.png"), 1.5),
    _staff("usr_maria", "María José Ortega", "maria@northwind.example", "", 3),
    _staff("usr_sam", "Sam O'Neill", "sam@northwind.example", None, 40),
]
ASSISTANTS: list[dict[str, Any]] = [
    {"id": "ast_nova", "name": "Nova", "avatar_url": asset_path("avatar-nova.svg")},
    {"id": "ast_triage", "name": "Triage Bot", "avatar_url": ""},
]
BROADCASTS: list[dict[str, Any]] = [
    {"id": "bc_2026_10_newsletter", "name": "October newsletter"},
    {"id": "bc_2026_11_black_friday", "name": "Black Friday: 30% off"},
    {"id": "bc_2026_09_survey", "name": "Customer satisfaction survey"},
]
_BOARDS = [
    {"board_id": "brd_sales", "board_name": "Sales pipeline", "column_id": "col_qualified"},
    {"board_id": "brd_support", "board_name": "Support escalations", "column_id": "col_waiting"},
    {"board_id": "brd_onboarding", "board_name": "Onboarding", "column_id": "col_week1"},
]
_SEGMENT_NAMES: list[tuple[str, str, str]] = [
    ("seg_vip", "VIP", "red"),
    ("seg_churn_risk", "Churn risk", "orange"),
    ("seg_trial", "Trial", "amber"),
    ("seg_newsletter", "Newsletter", "yellow"),
    ("seg_beta", "Beta testers", "lime"),
    ("seg_paying", "Paying customers", "green"),
    ("seg_enterprise", "Enterprise", "teal"),
    ("seg_onboarding", "Onboarding", "cyan"),
    ("seg_priority", "Priority support", "sky"),
    ("seg_partners", "Partners", "blue"),
    ("seg_emea", "EMEA", "indigo"),
    ("seg_developers", "Developers", "violet"),
    ("seg_design", "Design panel", "purple"),
    ("seg_events", "Events 2026", "fuchsia"),
    ("seg_feedback", "Feedback panel", "pink"),
    ("seg_winback", "Win-back", "rose"),
    ("seg_archive", "Archive", "neutral"),
]


def _segment(index: int, segment_id: str, name: str, color: str) -> dict[str, Any]:
    return {
        "id": segment_id,
        "name": name,
        "color": color,
        "contacts_count": 17 + index * 23,
        "boards": [_BOARDS[(index + offset) % len(_BOARDS)] for offset in range(index % 3)],
        "created_at": _iso(ANCHOR - timedelta(days=900 - index * 11)),
        "updated_at": _iso(ANCHOR - timedelta(days=20 - index)),
    }


SEGMENTS: list[dict[str, Any]] = [_segment(index, *entry) for index, entry in enumerate(_SEGMENT_NAMES)]
_SEGMENTS_BY_ID = {segment["id"]: segment for segment in SEGMENTS}

# asset name, mimetype, filenames it is served under
_FILE_KINDS: list[tuple[str, str, list[str]]] = [
    ("screenshot.png", "image/png", ["Screenshot 2026-11-03 at 10.14.png", "error-dialog.png", "checkout.png"]),
    ("photo.jpg", "image/jpeg", ["IMG_2041.jpg", "damaged-parcel.jpg"]),
    ("invoice.pdf", "application/pdf", ["Invoice INV-2026-0042.pdf", "contract-signed.pdf", "quote.pdf"]),
    ("orders.csv", "text/csv", ["orders-november.csv", "export.csv"]),
    ("diagnostics.zip", "application/zip", ["diagnostics.zip", "logs-2026-10.zip"]),
    ("blob.bin", "application/x-northwind-backup", ["settings-backup.nwb"]),
]
_NOTE_LINES = [
    "Called about a late delivery; promised an update by Friday.",
    "Customer asked for a copy of last month's invoice.",
    "Refund approved for order NW-4123.\nShe was happy with the outcome.",
    "Prefers e-mail over phone. Do not call before 10:00.",
    "Escalated to tier 2: payment failed three times with the same card.",
    "Summary of the chat: wants to upgrade to the annual plan once the trial ends.",
    "Follow-up: the replacement arrived intact.",
    "Asked whether we ship to the Canary Islands (we do, 5-7 days).",
    "Reported a bug in the mobile app: the basket empties after login.\nSteps attached.",
    "Left a voicemail.",
]
_BLOCK_REASONS = ["Abusive language towards staff", "Spam", "Chargeback fraud suspected"]
_UNSUBSCRIBE_REASONS = [
    ("too_many_emails", "Too many e-mails every week."),
    ("not_relevant", "I moved abroad, the offers do not apply to me."),
    ("other", ""),
]


@dataclass
class _State:
    blocked: bool = False
    unsubscribed: bool = False
    segments: list[str] = field(default_factory=list)
    blocked_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    unsubscribe_metadata: dict[str, Any] | None = None
    unsubscribes: int = 0


@dataclass
class _Event:
    created_at: datetime
    type: str
    data: dict[str, Any]


@dataclass
class _ContactSpec:
    org_id: str
    contact_id: str
    name: str | None
    channels: list[dict[str, Any]]
    count: int = 0
    span_days: float = 90
    newest: datetime = ANCHOR
    blocked: bool = False
    unsubscribed: bool = False
    behaviour: str = Behaviour.NORMAL
    is_admin: bool = False
    tie_rate: float = 0.04


def channel(
    channel_id: str,
    channel_type: str,
    user_id: str,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    username: str | None = None,
    avatar: str | None = None,
) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": channel_type,
        "user_id": user_id,
        "avatar": avatar,
        "name": name,
        "username": username,
        "email": email,
        "phone": phone,
    }


def _email_contact(cid: str, name: str, email: str, phone: str | None = None, **spec: Any) -> _ContactSpec:
    channels = [channel(f"ch_{cid}_mail", "gmail", email, name=name, email=email)]
    if phone:
        channels.append(channel(f"ch_{cid}_sms", "twilio", phone, name=name, phone=phone))
    return _ContactSpec(contact_id=cid, name=name, channels=channels, **spec)


def _ordinary_specs(rng: random.Random) -> list[_ContactSpec]:
    def spread() -> dict[str, Any]:
        return {
            "count": rng.randint(3, 15),
            "span_days": rng.randint(60, 400),
            "newest": ANCHOR - timedelta(days=rng.randint(1, 50), minutes=rng.randint(0, 1440)),
        }

    p, s = PARENT_ORG_ID, SUB_ORG_ID
    return [
        _email_contact("ct_kwame", "Kwame Mensah", "kwame.mensah@example.com", "+447700900101", org_id=p, **spread()),
        _email_contact("ct_zoe", "Zoë Åkesson", "zoe.akesson@example.se", org_id=p, unsubscribed=True, **spread()),
        _ContactSpec(
            p,
            "ct_liwei",
            "李伟 (Li Wei)",
            [channel("ch_ct_liwei_wa", "whatsapp_bot", "447700900102", name="Li Wei", phone="+447700900102")],
            **spread(),
        ),
        _email_contact("ct_fatima", "Fatima Al-Sayed", "fatima@example.ae", org_id=p, blocked=True, **spread()),
        _email_contact(
            "ct_olivia", "Olivia O'Brien", "olivia.obrien@example.ie", "+353851234567", org_id=p, **spread()
        ),
        _email_contact(
            "ct_mateo", "Mateo García", "mateo@example.es", org_id=p, blocked=True, unsubscribed=True, **spread()
        ),
        _email_contact("ct_priya", "Priya Raman", "priya.raman@example.in", "+447700900103", org_id=p, **spread()),
        _ContactSpec(p, "ct_noname", None, [channel("ch_ct_noname_sms", "twilio", "+447700900104")], **spread()),
        _ContactSpec(
            p,
            "ct_sven",
            "Sven Larsen",
            [channel("ch_ct_sven_tg", "telegram_bot", "88120455", name="Sven", username="svenl")],
            **spread(),
        ),
        _email_contact("ct_amara", "Amara Okafor", "amara@northwind.example", org_id=p, is_admin=True, **spread()),
        _ContactSpec(
            s,
            "ct_bruno",
            "Bruno Silva",
            [
                channel(
                    "ch_ct_bruno_mail",
                    "gmail",
                    "bruno.silva@example.pt",
                    name="Bruno Silva",
                    email="bruno.silva@example.pt",
                ),
                channel(
                    "ch_ct_bruno_wa",
                    "whatsapp_bot",
                    "351912345678",
                    name="Bruno",
                    phone="+351912345678",
                    avatar=asset_path("avatar-bruno.jpg"),
                ),
            ],
            count=25,
            span_days=120,
            newest=ANCHOR - timedelta(hours=5),
        ),
        _email_contact("ct_chiara", "Chiara Rossi", "chiara.rossi@example.it", "+393471234567", org_id=s, **spread()),
        _email_contact("ct_dmitri", "Dmitri Volkov", "dmitri@example.de", org_id=s, blocked=True, **spread()),
        _email_contact("ct_elif", "Elif Y\u0131lmaz", "elif@example.com.tr", org_id=s, unsubscribed=True, **spread()),
        _email_contact("ct_hannah", "Hannah Schmidt", "hannah.schmidt@example.de", org_id=s, **spread()),
    ]


def _main_specs() -> list[_ContactSpec]:
    p = PARENT_ORG_ID
    ada = [
        channel("ch_ada_mail", "gmail", "ada@analytical.example", name="Ada Lovelace", email="ada@analytical.example"),
        channel("ch_ada_sms", "twilio", "+447700900018", name="Ada Lovelace", phone="+447700900018"),
        channel(
            "ch_ada_wa",
            "whatsapp_bot",
            "447700900018",
            name="Ada",
            username="ada.l",
            phone="+447700900018",
            avatar=asset_path("avatar-ada.svg"),
        ),
    ]
    return [
        _ContactSpec(p, "ct_ada", "Ada Lovelace", ada, count=60, span_days=90, tie_rate=0.12),
        _email_contact(
            "ct_heavy",
            "Henrietta Heavy",
            "henrietta@bigcorp.example",
            "+447700900200",
            org_id=p,
            count=5200,
            span_days=800,
            newest=ANCHOR - timedelta(hours=2),
        ),
        _email_contact("ct_empty", "Eddie Empty", "eddie@example.org", org_id=p),
        _email_contact(
            "ct_slow", "Sloane Slow", "sloane@example.org", org_id=p, count=20, span_days=30, behaviour=Behaviour.SLOW
        ),
        _email_contact(
            "ct_flaky", "Flora Flaky", "flora@example.org", org_id=p, count=20, span_days=30, behaviour=Behaviour.FLAKY
        ),
        _email_contact(
            "ct_ratelimited",
            "Rita Ratelimit",
            "rita@example.org",
            org_id=p,
            count=20,
            span_days=30,
            behaviour=Behaviour.RATE_LIMITED,
        ),
    ]


class _Seeder:
    def __init__(self, random_seed: int = RANDOM_SEED, id_tag: str = "") -> None:
        self.rng = random.Random(random_seed)
        self.sequence = 0
        self.id_tag = id_tag

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{self.id_tag}{self.next_serial():06d}"

    def next_serial(self) -> int:
        self.sequence += 1
        return self.sequence

    # --- timelines ---

    def timeline(self, spec: _ContactSpec) -> tuple[list[_Event], _State]:
        state = _State()
        events = []
        times = self.times(spec)
        for index, when in enumerate(times):
            activity_type = self.next_type(state, len(times) - index, spec)
            events.append(_Event(when, activity_type, self.activity_data(spec, state, activity_type, when)))
        return events, state

    def times(self, spec: _ContactSpec) -> list[datetime]:
        """`spec.count` whole-second timestamps, oldest first, the last at `spec.newest`."""
        if not spec.count:
            return []
        average = spec.span_days * 86400 / spec.count
        times = [spec.newest]
        for _ in range(spec.count - 1):
            gap = 0 if self.rng.random() < spec.tie_rate else int(self.rng.uniform(0.3, 1.7) * average)
            times.append(times[-1] - timedelta(seconds=gap))
        return times[::-1]

    def next_type(self, state: _State, remaining: int, spec: _ContactSpec) -> str:
        # The last two events steer the contact into its intended final state, so
        # the contact object always agrees with its latest block/unsubscribe event.
        if remaining <= 2 and state.blocked != spec.blocked:
            return "contact_unblocked" if state.blocked else "contact_blocked"
        if remaining <= 2 and state.unsubscribed != spec.unsubscribed:
            return "contact_resubscribed" if state.unsubscribed else "contact_unsubscribed"
        allowed = {
            "note_created",
            "file_uploaded",
            "contact_unblocked" if state.blocked else "contact_blocked",
            "contact_resubscribed" if state.unsubscribed else "contact_unsubscribed",
        }
        if remaining <= 2:
            allowed -= set(_TOGGLES)
        if len(state.segments) < len(SEGMENTS):
            allowed.add("segment_added")
        if state.segments:
            allowed.add("segment_removed")
        choices = [name for name in ACTIVITY_TYPE_WEIGHTS if name in allowed]
        return self.rng.choices(choices, weights=[ACTIVITY_TYPE_WEIGHTS[name] for name in choices])[0]

    # --- activity payloads ---

    def activity_data(self, spec: _ContactSpec, state: _State, activity_type: str, when: datetime) -> dict[str, Any]:
        data = _blank()
        rng = self.rng
        staff = rng.choice(STAFF)
        if activity_type == "note_created":
            if rng.random() < 0.2:  # an AI summary: no staff author, so no note.user either
                data["assistant"] = rng.choice(ASSISTANTS)
                data["note"] = self.note(spec, when, None)
            else:
                data["actor"] = staff
                data["note"] = self.note(spec, when, staff)
        elif activity_type == "file_uploaded":
            data["actor"] = staff if rng.random() < 0.6 else None
            data["file"] = self.file(spec, when)
        elif activity_type == "segment_added":
            segment_id = rng.choice([s["id"] for s in SEGMENTS if s["id"] not in state.segments])
            state.segments.append(segment_id)
            data["segment"] = _SEGMENTS_BY_ID[segment_id]
            data.update(self.doer(staff, assistant_share=0.3, system_share=0.2))
        elif activity_type == "segment_removed":
            segment_id = rng.choice(state.segments)
            state.segments.remove(segment_id)
            data["segment"] = _SEGMENTS_BY_ID[segment_id]
            data.update(self.doer(staff, assistant_share=0.0, system_share=0.4))
        elif activity_type == "contact_blocked":
            state.blocked, state.blocked_at = True, when
            data.update(self.doer(staff, assistant_share=0.3, system_share=0.0))
            data["metadata"] = {"reason": rng.choice(_BLOCK_REASONS)} if rng.random() < 0.6 else {}
        elif activity_type == "contact_unblocked":
            state.blocked, state.blocked_at = False, None
            data["actor"] = staff
        elif activity_type == "contact_unsubscribed":
            self.unsubscribe(data, state, when, staff)
        elif activity_type == "contact_resubscribed":
            state.unsubscribed, state.unsubscribed_at, state.unsubscribe_metadata = False, None, None
            data["actor"] = staff if rng.random() < 0.5 else None
        return data

    def doer(self, staff: dict[str, Any], *, assistant_share: float, system_share: float) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < assistant_share:
            return {"assistant": self.rng.choice(ASSISTANTS)}
        if roll < assistant_share + system_share:
            return {}  # a system event: no actor, no assistant
        return {"actor": staff}

    def unsubscribe(self, data: dict[str, Any], state: _State, when: datetime, staff: dict[str, Any]) -> None:
        reason, feedback = self.rng.choice(_UNSUBSCRIBE_REASONS)
        # Most unsubscribes come from a broadcast's link, and a contact's first one always does.
        if self.rng.random() < 0.7 or not state.unsubscribes:
            data["broadcast"] = self.rng.choice(BROADCASTS)  # the contact clicked "unsubscribe" in a broadcast
            data["metadata"] = {"reason": reason, "feedback": feedback}
        else:
            data["actor"] = staff
            data["metadata"] = {"reason": "requested_by_phone", "feedback": ""}
        state.unsubscribed, state.unsubscribed_at, state.unsubscribe_metadata = True, when, data["metadata"]
        state.unsubscribes += 1

    def note(self, spec: _ContactSpec, when: datetime, author: dict[str, Any] | None) -> dict[str, Any]:
        rng = self.rng
        attachment_count = rng.choices([0, 1, 2, 3, 5], weights=[60, 20, 10, 6, 4])[0]
        edited = rng.random()
        note: dict[str, Any] = {
            "id": self.next_id("note"),
            "contact_id": spec.contact_id,
            "content": rng.choice(_NOTE_LINES),
            "attachments": [self.file(spec, when) for _ in range(attachment_count)],
            "created_at": _iso(when),
            "updated_at": _iso(when),
        }
        if edited < 0.05:
            note["updated_at"] = None
        elif edited < 0.3:
            note["updated_at"] = _iso(when + timedelta(minutes=rng.randint(1, 300)))
        if author is not None:
            note["user"] = {"id": author["id"], "name": author["name"], "avatar": author["avatar"]}
        return note

    def file(self, spec: _ContactSpec, when: datetime) -> dict[str, Any]:
        asset, mimetype, filenames = self.rng.choice(_FILE_KINDS)
        return file_object(
            self.next_id("file"), spec, filename=self.rng.choice(filenames), asset=asset, mimetype=mimetype, when=when
        )

    # --- contact objects ---

    def contact_data(self, spec: _ContactSpec, events: list[_Event], state: _State) -> dict[str, Any]:
        first = events[0].created_at if events else spec.newest
        created = first - timedelta(days=self.rng.randint(1, 30), seconds=self.rng.randint(0, 86399))
        metadata = state.unsubscribe_metadata or {}
        return {
            "name": spec.name,
            "blocked": state.blocked,
            "unsubscribed": state.unsubscribed,
            "is_admin": spec.is_admin,
            "channels": spec.channels,
            "segments": [_contact_segment(_SEGMENTS_BY_ID[segment_id]) for segment_id in state.segments],
            "created_at": _iso(created),
            "updated_at": _iso(events[-1].created_at if events else created),
            "blocked_at": _iso(state.blocked_at) if state.blocked_at else None,
            "unsubscribed_at": _iso(state.unsubscribed_at) if state.unsubscribed_at else None,
            "unsubscribe_reason": metadata.get("reason"),
            "unsubscribe_feedback": metadata.get("feedback"),
        }


def _contact_segment(segment: dict[str, Any]) -> dict[str, Any]:
    # Segments inside a contact object carry no `boards` (as Invent documents the contact object).
    return {key: value for key, value in segment.items() if key != "boards"}


def file_object(
    file_id: str,
    spec: _ContactSpec,
    *,
    filename: str,
    asset: str,
    mimetype: str,
    when: datetime | None,
    size: Any = None,
    url: str | None = None,
) -> dict[str, Any]:
    """A File object as Invent documents it; size and URL default to the served asset's."""
    served = get_asset(asset)
    assert served is not None, asset
    return {
        "id": file_id,
        "file_path": f"orgs/{spec.org_id}/contacts/{spec.contact_id}/files/{file_id}/{filename}",
        "file_filename": filename,
        "file_size": len(served.body) if size is None else size,
        "file_mimetype": mimetype,
        "file_url": asset_path(asset) if url is None else url,
        "created_at": _iso(when) if when else None,
    }


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def activity_id(created_at: datetime, serial: int) -> str:
    """An opaque-looking id that sorts like (created_at, serial).

    Equal timestamps then tie-break by creation order, and ids minted later for
    newer activities sort after all existing ones.
    """
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"act_{micros:016d}_{serial:06d}"


# --- The hostile contact -------------------------------------------------

_XSS = "<img src=x onerror=alert(1)>"
_EVIL_ACTOR: dict[str, Any] = {
    "id": "usr_mallory",
    "name": "<script>alert('actor')</script>Mallory",
    "email": 'mallory@evil.example" onmouseover="alert(1)',
    "avatar": "javascript:alert('avatar')",
    "seen_at": "yesterday",
}
_EVIL_ASSISTANT: dict[str, Any] = {
    "id": "ast_evil",
    "name": "<img src=x onerror=alert('assistant')>",
    "avatar_url": "data:text/html,<script>alert(1)</script>",
}
_EVIL_SEGMENT: dict[str, Any] = {
    "id": "seg_evil",
    "name": "<i>VIP</i><script>alert('segment')</script>",
    "color": "chartreuse",
    "contacts_count": 3,
    "boards": [{"board_id": "brd_evil", "board_name": "<b>Board</b>", "column_id": "col_evil"}],
    "created_at": _iso(ANCHOR - timedelta(days=30)),
    "updated_at": _iso(ANCHOR - timedelta(days=1)),
}
_RTL_NOTE = (
    "مرحبا، أحتاج إلى مساعدة في طلبي 📦\n"
    "שלום, ההזמנה שלי לא הגיעה 🙏\n"
    "Mixed: order NW-4100 \u200f(عربي)\u200f 👩🏽\u200d💻 🏳️\u200d🌈\n"
    "Zero\u200bwidth\u200cnon\u200djoiners, a BOM\ufeff and an override: \u202egnp.exe\u202c"
)
_SCRIPT_NOTE = (
    "<script>alert(1)</script>\n"
    '<b>bold?</b> <a href="javascript:alert(1)">click me</a>\n'
    '<div hx-get="/x" hx-trigger="load" hx-swap="outerHTML">htmx</div>\n'
    f"{_XSS} <svg onload=alert(2)>\n"
    "{{ request.user }} {% debug %} ${7*7}"
)


def _long_note() -> str:
    line = "Long transcript line {:04d}: the customer repeated the order number and the delivery address again.\n"
    text = "".join(line.format(number) for number in range(2500))
    return text[: 200 * 1024]


def _long_word() -> str:
    return "".join("abcdefghijklmnopqrstuvwxyz"[index % 26] for index in range(300))


def _blank(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict.fromkeys(("actor", "assistant", "segment", "broadcast", "note", "file"))
    data["metadata"] = {}
    data.update(fields)
    return data


# A note that a spreadsheet would run as a formula if exported as is.
FORMULA_NOTE = '=HYPERLINK("https://evil.example","click")'
# Invent's schema allows any date-time: this one is old, but an ordinary note to show.
OLD_NOTE_AT = datetime(1959, 6, 1, 9, 30, tzinfo=UTC)
# ...and this one no time zone can show: the item is unreadable, and counted as such.
UNPLACEABLE_AT = "0001-01-01T00:00:00Z"


def _hostile_events(seeder: _Seeder, spec: _ContactSpec) -> list[_Event]:
    newest = ANCHOR - timedelta(minutes=30)
    grace = STAFF[0]

    def at(minutes: int) -> datetime:
        return newest - timedelta(minutes=minutes)

    def note(
        minutes: int,
        content: str | None,
        attachments: list[dict[str, Any]],
        author: dict[str, Any],
        when: datetime | None = None,
    ) -> Any:
        created = when or at(minutes)
        return {
            "id": seeder.next_id("note"),
            "contact_id": spec.contact_id,
            "content": content,
            "attachments": attachments,
            "created_at": _iso(created),
            "updated_at": _iso(created),
            "user": {"id": author["id"], "name": author["name"], "avatar": author["avatar"]},
        }

    def upload(minutes: int, filename: str, **options: Any) -> _Event:
        defaults: dict[str, Any] = {"asset": "blob.bin", "mimetype": "application/octet-stream", "when": at(minutes)}
        file = file_object(seeder.next_id("file"), spec, filename=filename, **(defaults | options))
        return _Event(at(minutes), "file_uploaded", _blank(actor=grace, file=file))

    evil_files = [
        file_object(
            seeder.next_id("file"),
            spec,
            filename=f"{_XSS}.png",
            asset="screenshot.png",
            mimetype="image/png",
            when=at(0),
            url="javascript:alert(document.cookie)",
        ),
        file_object(
            seeder.next_id("file"),
            spec,
            filename="<script>alert(1)</script>.pdf",
            asset="invoice.pdf",
            mimetype="application/pdf",
            when=at(0),
            url="data:text/html,<script>alert(1)</script>",
        ),
        file_object(
            seeder.next_id("file"), spec, filename="fine.png", asset="screenshot.png", mimetype="image/png", when=at(0)
        ),
        file_object(
            seeder.next_id("file"),
            spec,
            filename="mystery.xyz",
            asset="blob.bin",
            mimetype="application/x-unknown-🤔",
            when=None,
        ),
    ]
    segment_without_segment = _blank(actor=grace)
    del segment_without_segment["segment"]
    merged = _blank(
        actor=grace,
        metadata={
            "merged_contact_id": "ct_old_7781",
            "merged_fields": ["email", "phone"],
            "comment": "<script>alert('merged')</script>",
        },
    )
    return [
        _Event(at(0), "note_created", _blank(actor=_EVIL_ACTOR, note=note(0, _SCRIPT_NOTE, evil_files, _EVIL_ACTOR))),
        _Event(at(5), "note_created", _blank(actor=grace, note=note(5, FORMULA_NOTE, [], grace))),
        _Event(at(10), "note_created", _blank(actor=grace, note=note(10, _long_note(), [], grace))),
        _Event(at(20), "note_created", _blank(actor=grace, note=note(20, _RTL_NOTE, [], grace))),
        _Event(at(30), "note_created", _blank(actor=grace, note=note(30, f"See {_long_word()} please", [], grace))),
        _Event(at(40), "contact_merged", merged),
        _Event(at(50), "note_created", _blank()),  # note null, actor null
        _Event(at(60), "segment_added", segment_without_segment),
        _Event(at(70), "contact_blocked", _blank(assistant=_EVIL_ASSISTANT, metadata=None)),
        upload(80, "empty.txt", size=0, mimetype="text/plain"),
        upload(90, "exactly-1k.bin", size=1024),
        upload(100, "disk-image.iso", size=5 * 1024**3, mimetype="application/x-iso9660-image"),
        upload(110, "size-as-text.csv", size="12 KB", asset="orders.csv", mimetype="text/csv"),
        upload(
            120,
            '"><svg onload=alert(1)>.pdf',
            asset="invoice.pdf",
            mimetype="application/pdf",
            url="javascript:alert(document.cookie)",
        ),
        upload(125, "no-url.png", asset="screenshot.png", mimetype="image/png", url="", when=None),
        _Event(at(130), "segment_added", _blank(actor=_EVIL_ACTOR, segment=_EVIL_SEGMENT)),
        _Event(
            at(140),
            "contact_unsubscribed",
            _blank(
                broadcast={"id": "bc_evil", "name": "<script>alert('broadcast')</script>"},
                metadata={"reason": '<a hx-get="/x" hx-trigger="load">x</a>', "feedback": 'x" onerror="alert(1)'},
            ),
        ),
        # Malformed items: clients must skip them, not fail the page.
        _Event(at(150), "note_created", _blank(actor=grace, created_at="not-a-date")),
        _Event(at(160), "file_uploaded", _blank(actor=grace, _omit=["id"])),
        _Event(at(170), "contact_unblocked", {}),  # no nested keys at all
        _Event(at(180), "contact_resubscribed", _blank(actor={"id": "usr_ghost"}, metadata="n/a")),
        _Event(
            at(190), "note_created", _blank(actor={"id": "usr_ghost"}, note=note(190, None, [], grace) | {"user": None})
        ),
        _Event(
            at(200),
            "note_created",
            _blank(actor=grace, created_at=UNPLACEABLE_AT, note=note(200, "Year one", [], grace)),
        ),
        # The oldest: sorted (and its id minted) by its real date, like any activity.
        _Event(
            OLD_NOTE_AT,
            "note_created",
            _blank(actor=grace, note=note(0, "Account opened by post, long before e-mail.", [], grace, OLD_NOTE_AT)),
        ),
    ][::-1]


def _hostile_plan(seeder: _Seeder) -> tuple[_ContactSpec, list[_Event], dict[str, Any]]:
    spec = _ContactSpec(
        PARENT_ORG_ID,
        "ct_hostile",
        _XSS,
        [
            channel(
                "ch_hostile_mail",
                "gmail",
                '"><script>alert(1)</script>@evil.example',
                name='<b onmouseover="alert(1)">Mallory</b>',
                email='"><script>alert(1)</script>@evil.example',
                avatar="javascript:alert(1)",
            ),
            channel(
                "ch_hostile_wa",
                "whatsapp_bot",
                "+15550100",
                phone='+1 555 0100 <a href="javascript:alert(1)">x</a>',
                avatar="data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            ),
            channel(
                "ch_hostile_custom",
                "custom",
                "ext-42",
                name="Custom \u202eedirrevo\u202c",
                username="\u200bzero\u200dwidth\ufeff",
                avatar=asset_path("avatar-hostile.svg"),
            ),
        ],
    )
    events = _hostile_events(seeder, spec)
    blocked_at = next(e.created_at for e in reversed(events) if e.type == "contact_blocked")
    unsubscribe = next(e for e in reversed(events) if e.type == "contact_unsubscribed")
    data = {
        "name": spec.name,
        "blocked": True,
        "unsubscribed": True,
        "is_admin": False,
        "channels": spec.channels,
        "segments": [_contact_segment(_EVIL_SEGMENT)],
        "created_at": _iso(ANCHOR - timedelta(days=2)),
        "updated_at": _iso(events[-1].created_at),
        "blocked_at": _iso(blocked_at),
        "unsubscribed_at": _iso(unsubscribe.created_at),
        "unsubscribe_reason": unsubscribe.data["metadata"]["reason"],
        "unsubscribe_feedback": unsubscribe.data["metadata"]["feedback"],
    }
    return spec, events, data


# --- Entry point ---------------------------------------------------------


def seed_demo() -> None:
    """Delete all demo Invent data and recreate it, identically on every run."""
    seeder = _Seeder()
    plans: list[tuple[_ContactSpec, list[_Event], dict[str, Any]]] = []
    for spec in [*_main_specs(), *_ordinary_specs(seeder.rng)]:
        events, state = seeder.timeline(spec)
        plans.append((spec, events, seeder.contact_data(spec, events, state)))
    plans.append(_hostile_plan(seeder))

    with transaction.atomic():
        DemoActivity.objects.all().delete()
        DemoContact.objects.all().delete()
        DemoOrg.objects.filter(parent__isnull=False).delete()
        DemoOrg.objects.all().delete()
        DemoOrg.objects.create(id=PARENT_ORG_ID, name=ORG_NAMES[PARENT_ORG_ID])
        DemoOrg.objects.create(id=SUB_ORG_ID, name=ORG_NAMES[SUB_ORG_ID], parent_id=PARENT_ORG_ID)
        contacts = DemoContact.objects.bulk_create(
            DemoContact(org_id=spec.org_id, contact_id=spec.contact_id, data=data, behaviour=spec.behaviour)
            for spec, _events, data in plans
        )
        rows = [
            DemoActivity(
                contact=contact,
                activity_id=activity_id(event.created_at, seeder.next_serial()),
                type=event.type,
                created_at=event.created_at,
                data=event.data,
            )
            for contact, (_spec, events, _data) in zip(contacts, plans, strict=True)
            for event in events
        ]
        DemoActivity.objects.bulk_create(rows, batch_size=BATCH_SIZE)


# --- Live additions (demo_invent_add_activity) ---------------------------


def add_activities(
    contact: DemoContact, *, count: int = 1, activity_type: str = "note_created", now: datetime | None = None
) -> list[DemoActivity]:
    """Add `count` activities created "now", newest last, and keep the contact object consistent.

    Timestamps strictly increase by at least a microsecond and never precede the
    contact's newest activity, so the new items are always the newest and their
    ids sort after every existing id.
    """
    with transaction.atomic():
        contact = DemoContact.objects.select_for_update().get(pk=contact.pk)
        latest = contact.activities.aggregate(latest=Max("created_at"))["latest"]
        when = now or timezone.now()
        if latest is not None and when <= latest:
            when = latest + timedelta(microseconds=1)
        micros = (when - _EPOCH) // timedelta(microseconds=1)
        seeder = _Seeder(random_seed=micros, id_tag=f"live{micros}_")
        spec = _ContactSpec(contact.org_id, contact.contact_id, contact.data.get("name"), [])
        state = _state_of(contact.data)
        rows = []
        for serial in range(1, count + 1):
            if activity_type == "segment_removed" and not state.segments:
                state.segments.append(seeder.rng.choice(SEGMENTS)["id"])
            if activity_type == "segment_added" and len(state.segments) == len(SEGMENTS):
                state.segments.pop()
            data = seeder.activity_data(spec, state, activity_type, when)
            rows.append(
                DemoActivity(
                    contact=contact,
                    activity_id=activity_id(when, serial),
                    type=activity_type,
                    created_at=when,
                    data=data,
                )
            )
            when += timedelta(microseconds=1)
        DemoActivity.objects.bulk_create(rows)
        contact.data = _apply_state(contact.data, state, rows[-1].created_at if rows else None)
        contact.save(update_fields=["data"])
    return rows


def _state_of(data: dict[str, Any]) -> _State:
    return _State(
        blocked=bool(data.get("blocked")),
        unsubscribed=bool(data.get("unsubscribed")),
        segments=[s["id"] for s in data.get("segments") or [] if s.get("id") in _SEGMENTS_BY_ID],
        blocked_at=_parse(data.get("blocked_at")),
        unsubscribed_at=_parse(data.get("unsubscribed_at")),
        unsubscribe_metadata={
            "reason": data.get("unsubscribe_reason"),
            "feedback": data.get("unsubscribe_feedback"),
        },
    )


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _apply_state(data: dict[str, Any], state: _State, updated: datetime | None) -> dict[str, Any]:
    metadata = state.unsubscribe_metadata or {}
    others = [s for s in data.get("segments") or [] if s.get("id") not in _SEGMENTS_BY_ID]
    return data | {
        "blocked": state.blocked,
        "unsubscribed": state.unsubscribed,
        "blocked_at": _iso(state.blocked_at) if state.blocked_at else None,
        "unsubscribed_at": _iso(state.unsubscribed_at) if state.unsubscribed_at else None,
        "unsubscribe_reason": metadata.get("reason") if state.unsubscribed else None,
        "unsubscribe_feedback": metadata.get("feedback") if state.unsubscribed else None,
        "segments": others + [_contact_segment(_SEGMENTS_BY_ID[i]) for i in state.segments],
        "updated_at": _iso(updated) if updated else data.get("updated_at"),
    }
