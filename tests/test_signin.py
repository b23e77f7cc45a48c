"""The sign-in throttle: one count per normalised name and address, on both sign-in forms,
counted before the password is checked, in a cache nothing else can push it out of."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, RequestFactory

from timeline_site.core.auth import (
    MAX_FAILED_SIGN_INS,
    DashboardBackend,
    ThrottledAuthenticationForm,
    normalised_username,
)

PASSWORD = "right-pass-123"
THROTTLED = "Too many failed sign-ins"
FULLWIDTH_T = "\uff54"


def _fail(client: Client, url: str, username: str, times: int = MAX_FAILED_SIGN_INS) -> None:
    for _ in range(times):
        response = client.post(url, {"username": username, "password": "wrong"})
        assert response.status_code == 200 and THROTTLED not in response.content.decode()


@pytest.mark.django_db
def test_a_fullwidth_spelling_of_a_locked_out_name_is_still_refused(client: Client) -> None:
    get_user_model().objects.create_user("throttled", password=PASSWORD)
    _fail(client, "/accounts/login/", "throttled")
    # Django's form normalises the fullwidth spelling to "throttled" before checking the password.
    response = client.post("/accounts/login/", {"username": FULLWIDTH_T + "hrottled", "password": PASSWORD})
    assert THROTTLED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_count_key_is_the_normalised_case_folded_name() -> None:
    assert normalised_username(FULLWIDTH_T + "hrottled") == normalised_username("THROTTLED ") == "throttled"
    assert normalised_username("Straße") == normalised_username("STRASSE")


@pytest.mark.django_db
def test_the_admin_sign_in_is_throttled_too(client: Client) -> None:
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    _fail(client, "/admin/login/", "root")
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 200 and THROTTLED in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_both_forms_share_one_count(client: Client) -> None:
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    _fail(client, "/accounts/login/", "root")
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert THROTTLED in response.content.decode()


def test_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[str] = []
    lock = threading.Lock()

    def slow_wrong_password(
        self: DashboardBackend, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        with lock:
            checks.append(str(username))
        time.sleep(0.05)  # a real password hash takes longer still
        return None

    monkeypatch.setattr(DashboardBackend, "authenticate", slow_wrong_password)
    attempts = 30
    start = threading.Barrier(attempts)
    outcomes: list[str] = []

    def attempt() -> None:
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.7")
        form = ThrottledAuthenticationForm(request, data={"username": "agent", "password": "wrong"})
        start.wait()
        valid = form.is_valid()
        with lock:
            outcomes.append("valid" if valid else form.errors.as_data()["__all__"][0].code or "")

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checks) == MAX_FAILED_SIGN_INS
    assert sorted(outcomes) == sorted(["invalid_login"] * MAX_FAILED_SIGN_INS + ["throttled"] * 25)


@pytest.mark.django_db
def test_the_count_survives_the_page_cache_filling_up(client: Client, staff_user: Any) -> None:
    _fail(client, "/accounts/login/", "agent")
    for i in range(1000):  # pages, fragments, stale copies and sessions all live in the default cache
        cache.set(f"filler:{i}", "x" * 100)
    response = client.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123"})
    assert THROTTLED in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_post_without_a_password_does_not_reset_the_count(client: Client, staff_user: Any) -> None:
    _fail(client, "/accounts/login/", "agent", times=MAX_FAILED_SIGN_INS - 1)
    client.post("/accounts/login/", {"username": "agent"})  # counted, no password checked
    response = client.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123"})
    assert THROTTLED in response.content.decode()


@pytest.mark.django_db
def test_a_successful_sign_in_resets_the_count(client: Client, staff_user: Any) -> None:
    _fail(client, "/accounts/login/", "agent", times=MAX_FAILED_SIGN_INS - 1)
    assert client.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123"}).status_code == 302
    client.logout()
    _fail(client, "/accounts/login/", "agent", times=MAX_FAILED_SIGN_INS - 1)
    assert client.post("/accounts/login/", {"username": "agent", "password": "agent-pass-123"}).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
        "/accounts/reset/MQ/set-password/",
        "/accounts/password_change/",
        "/accounts/password_change/done/",
    ],
)
def test_only_sign_in_and_sign_out_are_routed(staff_client: Client, client: Client, path: str) -> None:
    assert staff_client.get(path).status_code == 404
    assert client.get(path).status_code in (302, 404)  # signed out: never the page itself
    assert client.get("/accounts/login/").status_code == 200
    assert staff_client.post("/accounts/logout/").status_code == 302
