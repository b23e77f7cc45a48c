from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from timeline_site.timeline.auth import ThrottledAuthenticationForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("timeline_site.timeline.urls")),
]

if settings.DEMO_INVENT_ENABLED:
    # The embedded demo's avatars and attachments, served same-origin.
    urlpatterns.append(path("demo-invent/", include("timeline_site.demo_invent.urls")))
