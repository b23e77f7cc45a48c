"""Who may read which organisation's timelines."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection

from timeline_site.timeline.models import OrgAccess


def allowed_org_ids(user: AbstractBaseUser | AnonymousUser) -> list[str] | None:
    """The org IDs `user` may read; None means every org (superusers)."""
    if not user.is_authenticated or not user.is_active:
        return []
    if getattr(user, "is_superuser", False):
        return None
    return list(OrgAccess.objects.filter(user_id=user.pk).values_list("org_id", flat=True))


def can_view_org(user: AbstractBaseUser | AnonymousUser, org_id: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return _has_access_row(user.pk, org_id)


# --- The two lookups made on every request ---------------------------------------
# Each timeline request (each scroll too) reads the signed-in user and checks
# the org. As plain SQL each costs about a tenth of the same ORM query, whose
# compiling, not running, was most of its cost. Table and column names come
# from the models, quoted by the database backend.


def _quoted(name: str | None) -> str:
    return connection.ops.quote_name(str(name))


def user_by_pk(user_id: Any) -> Any:
    """The user with this primary key, as `User.objects.get(pk=...)` would load it, or None."""
    model = get_user_model()
    columns = ", ".join(_quoted(field.column) for field in model._meta.concrete_fields)
    table, pk = _quoted(model._meta.db_table), _quoted(model._meta.pk.column if model._meta.pk else "id")
    # A raw queryset: no query to compile, and the backend's converters (aware datetimes) still apply.
    sql = f"SELECT {columns} FROM {table} WHERE {pk} = %s"  # noqa: S608 - names from the model
    return next(iter(model._default_manager.raw(sql, [user_id])), None)


def _has_access_row(user_id: Any, org_id: str) -> bool:
    meta = OrgAccess._meta
    table, user, org = (
        _quoted(meta.db_table),
        _quoted(meta.get_field("user").column),
        _quoted(meta.get_field("org_id").column),
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {user} = %s AND {org} = %s LIMIT 1", [user_id, org_id])  # noqa: S608
        return cursor.fetchone() is not None
