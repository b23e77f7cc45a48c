from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from timeline_site.core.auth import ThrottledAdminAuthenticationForm

# The admin has a sign-in form of its own: it gets the same throttle, and the same count.
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", include("timeline_site.core.urls")),
    path("admin/", admin.site.urls),
    path("", include("timeline_site.timeline.urls")),
]

if settings.DEMO_INVENT_ENABLED:
    # The embedded demo's avatars and attachments, served same-origin.
    urlpatterns.append(path("demo-invent/", include("timeline_site.demo_invent.urls")))
