"""Readers for settings taken from the environment.

They fail loudly on malformed values: a typo in a deployment should stop the
process at start-up, not quietly fall back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import PurePath
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# manage.py commands that serve requests (sessions and CSRF tokens are signed with the
# key) or vet a deployment: they need a real key whenever DEBUG is off.
_NEEDS_A_REAL_KEY = frozenset({"runserver", "testserver", "check"})


def demo_management_command(argv: Sequence[str], *, demo_upstream: bool) -> bool:
    """True for `manage.py <command>` against the embedded demo, other than a server or `check`.

    Such a command may run with a throwaway secret key: nothing it signs leaves the process.
    """
    if not demo_upstream or len(argv) < 2 or PurePath(argv[0]).name != "manage.py":
        return False
    return argv[1] not in _NEEDS_A_REAL_KEY and not argv[1].startswith("-")


def database_from_url(url: str, *, sqlite_default: str) -> dict[str, object]:
    """Turn DATABASE_URL (postgres://user:pass@host:port/name or sqlite:///path) into DATABASES['default']."""
    parts = urlsplit(url)
    if not url or parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path[1:]) or sqlite_default,
            # Kept open per server thread: opening SQLite costs about as much as a cached request.
            "CONN_MAX_AGE": 60,
            # WAL lets the audit trail's writes and the reads of other threads overlap;
            # IMMEDIATE takes the write lock up front instead of failing half-way ("database is locked").
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                        "transaction_mode": "IMMEDIATE"},
        }  # fmt: skip
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must start with postgres:// or sqlite://, got {parts.scheme!r}")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL names no database")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Persistent connections: one per gunicorn thread, checked before reuse.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
