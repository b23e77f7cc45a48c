from django.contrib import admin
from django.http import HttpRequest

from timeline_site.timeline.models import OrgAccess, TimelineView


@admin.register(OrgAccess)
class OrgAccessAdmin(admin.ModelAdmin):
    list_display = ["user", "org_id", "org_name", "granted_at"]
    list_filter = ["org_id"]
    search_fields = ["user__username", "user__email", "org_id", "org_name"]
    autocomplete_fields = ["user"]


@admin.register(TimelineView)
class TimelineViewAdmin(admin.ModelAdmin):
    """The audit trail: readable by admins, never editable, never deletable here."""

    list_display = ["viewed_at", "action", "user", "org_id", "contact_id", "contact_name", "ip_address"]
    list_filter = ["action", "org_id", "viewed_at"]
    search_fields = ["user__username", "org_id", "contact_id", "contact_name"]
    date_hierarchy = "viewed_at"
    readonly_fields = [f.name for f in TimelineView._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TimelineView | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TimelineView | None = None) -> bool:
        return False
