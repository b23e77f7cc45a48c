"""Each web request's upstream allowance (timeline_site.invent.budget.request_allowance).

Every request runs inside one: its upstream calls are capped (INVENT_MAX_CALLS_PER_REQUEST)
and charged to its user's share of the budget (INVENT_BUDGET_PER_USER_PER_MINUTE). The
user is the signed-in account, else the client's address (ClientAddressMiddleware has
put the real one in REMOTE_ADDR), so signing out does not buy a fresh share for the
same account and a signed-out page cannot spend a signed-in person's.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from timeline_site.invent.budget import request_allowance


def upstream_user_key(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{request.META.get('REMOTE_ADDR', '')}"


class UpstreamAllowanceMiddleware:
    """Runs after AuthenticationMiddleware, which provides request.user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_allowance(user_key=upstream_user_key(request)):
            return self.get_response(request)
