"""Sign-in, sign-out and the health check.

Only these two of django.contrib.auth's views are routed: password reset and
change would need e-mail, which the dashboard does not send (staff passwords
are set in the admin or with `manage.py changepassword`).
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from timeline_site.core import views
from timeline_site.core.auth import ThrottledAuthenticationForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
]
