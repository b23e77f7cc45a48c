from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("timeline_site.timeline.urls")),
]

if settings.DEMO_INVENT_ENABLED:
    # The embedded demo's avatars and attachments, served same-origin.
    urlpatterns.append(path("demo-invent/", include("timeline_site.demo_invent.urls")))
