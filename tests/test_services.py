"""The production serving stack, and the app against the machine's real Redis and PostgreSQL.

In-process: Server-Timing, gzip, WhiteNoise's immutable hashed static files and
gunicorn.conf.py. Marked `services`: real gunicorn processes (the demo Invent
over HTTP and dashboards) sharing one Redis, and the app on PostgreSQL.
"""

from __future__ import annotations

import gzip
import os
import re
import runpy
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests
from django.templatetags.static import static
from django.test import Client, override_settings

from benchmarks.servers import (
    DASHBOARD_APP,
    DEMO_APP,
    REPO,
    Server,
    article_count,
    base_env,
    manage,
    prepare_database,
    running,
    server_timing,
    sign_in,
    start_gunicorn,
    stop,
)

ADA = "/orgs/northwind/contacts/ct_ada/"
HX = {"HX-Request": "true"}
REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own, and a key prefix per run
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- In-process: headers and configuration ------------------------------------------


@override_settings(DEMO_INVENT_LATENCY_MS=5)
def test_server_timing_shows_upstream_time_on_a_miss_and_none_on_a_hit(staff_client: Client) -> None:
    miss = server_timing(staff_client.get(ADA, HTTP_HX_REQUEST="true")["Server-Timing"])
    hit = server_timing(staff_client.get(ADA, HTTP_HX_REQUEST="true")["Server-Timing"])
    assert miss["upstream"] >= 5.0  # the demo's added latency, at least
    assert hit["upstream"] == 0.0  # counted from zero again: nothing carried over from the last request
    assert hit["app"] > 0.0
    assert miss["total"] >= miss["upstream"] + miss["app"] - 0.2  # rounding


def test_server_timing_is_on_error_pages_too(staff_client: Client) -> None:
    response = staff_client.get("/orgs/northwind/contacts/ct_nobody/")
    assert response.status_code == 404
    assert set(server_timing(response["Server-Timing"])) == {"upstream", "app", "total"}


def test_pages_and_fragments_are_gzipped_for_browsers_that_accept_it(staff_client: Client) -> None:
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = staff_client.get(ADA, HTTP_ACCEPT_ENCODING="gzip, deflate, br", **extra)
        assert response["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response["Vary"]
        html = gzip.decompress(response.content).decode()
        assert html.count("data-activity-id=") == 50
        assert len(response.content) * 4 < len(html)


def test_hashed_static_files_are_cached_for_good_and_served_compressed(staff_client: Client) -> None:
    for name in ("css/app.css", "js/app.js", "django_htmx/htmx-2.min.js"):
        url = static(name)
        assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", url), url  # the manifest's hashed name
        response = staff_client.get(url, HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200
        assert response["Cache-Control"] == "max-age=315360000, public, immutable"
        assert response["Content-Encoding"] == "gzip"
        response.close()


def load_gunicorn_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("FORWARDED_ALLOW_IPS", "GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(REPO / "gunicorn.conf.py"))


def test_gunicorn_runs_gthread_workers_trusting_only_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load_gunicorn_conf(monkeypatch)
    assert conf["worker_class"] == "gthread"
    assert conf["threads"] >= 2 and conf["workers"] >= 1
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["accesslog"] == "-"
    assert conf["wsgi_app"] == DASHBOARD_APP


def test_gunicorn_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load_gunicorn_conf(
        monkeypatch, FORWARDED_ALLOW_IPS="10.0.0.0/8", GUNICORN_WORKERS="3", GUNICORN_THREADS="12",
        GUNICORN_BIND="0.0.0.0:9000",
    )  # fmt: skip
    assert (conf["forwarded_allow_ips"], conf["workers"], conf["threads"]) == ("10.0.0.0/8", 3, 12)
    assert conf["bind"] == ["0.0.0.0:9000"]
    with pytest.raises(ValueError):
        load_gunicorn_conf(monkeypatch, GUNICORN_THREADS="0")


# --- Real services ------------------------------------------------------------------


def unavailable(reason: str) -> NoReturn:
    """On a developer's machine without the service, skip; in CI (which starts both) it is a failure."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def redis_or_skip() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return client


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A seeded SQLite database and the demo Invent over HTTP in its own gunicorn."""
    redis_client = redis_or_skip()
    workdir = tmp_path_factory.mktemp("services")
    env = base_env(database_url=f"sqlite:///{workdir / 'db.sqlite3'}", static_root=workdir / "static")
    prepare_database(env)
    demo = start_gunicorn(name="demo-invent", app=DEMO_APP, env=env, log_dir=workdir, threads=8,
                          access_log=workdir / "demo-access.log")  # fmt: skip
    prefixes: list[str] = []
    with running(demo):
        yield {"env": env, "demo": demo, "workdir": workdir, "prefixes": prefixes}
    for prefix in prefixes:  # leave the shared Redis as we found it
        for key in redis_client.scan_iter(match=f"{prefix}:*", count=500):
            redis_client.delete(key)


def start_dashboards(stack: dict[str, Any], count: int, **settings: str) -> list[Server]:
    """`count` dashboard processes on one Redis key prefix, pointed at the demo over HTTP."""
    prefix = "ct-test-" + secrets.token_hex(6)
    stack["prefixes"].append(prefix)
    env = {**stack["env"], "REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix, "INVENT_API_URL": stack["demo"].url,
           "INVENT_API_KEY": "demo", **settings}  # fmt: skip
    servers: list[Server] = []
    try:
        for index in range(count):
            servers.append(start_gunicorn(name=f"dashboard-{prefix}-{index}", app=DASHBOARD_APP, env=env,
                                          log_dir=stack["workdir"], workers=1, threads=8))  # fmt: skip
    except BaseException:
        for server in servers:
            stop(server)
        raise
    return servers


def set_behaviour(stack: dict[str, Any], contact: str, behaviour: str) -> None:
    manage(stack["env"], "demo_invent_set_behaviour", "--org", "northwind", "--contact", contact, behaviour)


@pytest.mark.services
def test_a_page_fetched_through_one_process_is_served_by_another_without_an_upstream_call(
    shared_stack: dict[str, Any],
) -> None:
    first, second = start_dashboards(shared_stack, 2, INVENT_CACHE_SECONDS="300")
    with running(first, second):
        session = sign_in(first.url)  # the session lives in the shared database: good on both
        fetched = session.get(first.url + ADA, headers=HX, timeout=30)
        assert fetched.status_code == 200 and article_count(fetched.text) == 50
        assert server_timing(fetched.headers["Server-Timing"])["upstream"] > 0

        # From now on any upstream call for this contact fails (and would show a stale copy).
        set_behaviour(shared_stack, "ct_ada", "down")
        try:
            served = session.get(second.url + ADA, headers=HX, timeout=30)
        finally:
            set_behaviour(shared_stack, "ct_ada", "normal")
    assert served.status_code == 200
    assert server_timing(served.headers["Server-Timing"])["upstream"] == 0.0  # not one attempt upstream
    assert article_count(served.text) == 50
    assert activity_ids(served.text) == activity_ids(fetched.text)  # the very same page


def activity_ids(html: str) -> list[str]:
    return re.findall(r'data-activity-id="([^"]+)"', html)


def count_upstream_calls(log: Path, since: int, *, expect: int) -> int:
    """Calls the demo Invent answered since byte `since` of its access log (lines land just after responses)."""
    count = 0
    for _ in range(30):  # bounded: at most ~3 s for the last lines to be written
        count = log.read_bytes()[since:].count(b'"GET /orgs/')
        if count >= expect:
            break
        time.sleep(0.1)
    return count


@pytest.mark.services
def test_the_upstream_budget_holds_across_processes(shared_stack: dict[str, Any]) -> None:
    log = shared_stack["workdir"] / "demo-access.log"
    # One user hammers here: their own share of the minute (a third by default) is turned off, so
    # that what is tested is the budget all processes share.
    servers = start_dashboards(
        shared_stack, 2, INVENT_CACHE_SECONDS="0", INVENT_BUDGET_PER_MINUTE="5", INVENT_BUDGET_PER_USER_PER_MINUTE="0"
    )
    with running(*servers):
        session = sign_in(servers[0].url)
        cookies = session.cookies.get_dict()
        log_start = log.stat().st_size
        statuses: list[int] = []
        busy: list[bool] = []
        lock = threading.Lock()
        start = threading.Barrier(8)

        def hammer(index: int) -> None:
            start.wait(timeout=30)
            with requests.Session() as own:
                own.cookies.update(cookies)
                for turn in range(3):
                    server = servers[(index + turn) % 2]  # both processes, interleaved
                    response = own.get(server.url + ADA, headers=HX, timeout=30)
                    with lock:
                        statuses.append(response.status_code)
                        busy.append("Invent is busy" in response.text and "Retry-After" in response.headers)

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert len(statuses) == 24
    # Every call is paid from one budget: exactly 5 reached Invent across both processes,
    # although 24 requests wanted at least one each.
    assert count_upstream_calls(log, log_start, expect=5) == 5
    assert 1 <= statuses.count(200) <= 5
    assert statuses.count(200) + statuses.count(503) == 24
    assert busy.count(True) == statuses.count(503)  # "Invent is busy, try again in N s", with Retry-After


def postgres_or_skip() -> Any:
    import psycopg

    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")


@pytest.mark.services
def test_the_app_runs_on_postgresql(tmp_path: Path) -> None:
    import psycopg

    admin = postgres_or_skip()
    name = "ct_test_" + secrets.token_hex(6)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
        env = base_env(database_url=url, static_root=tmp_path / "static")  # the embedded demo, in-process
        prepare_database(env)
        server = start_gunicorn(name="dashboard-postgres", app=DASHBOARD_APP, env=env, log_dir=tmp_path, threads=4)
        with running(server):
            session = sign_in(server.url)
            page = session.get(server.url + ADA, timeout=30)
        assert page.status_code == 200
        assert article_count(page.text) == 50
        with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT u.username, v.org_id, v.contact_id FROM timeline_timelineview v "
                "JOIN auth_user u ON u.id = v.user_id"
            ).fetchall()
            engine = conn.execute("SELECT current_database()").fetchone()
        assert rows == [("bench-agent", "northwind", "ct_ada")]
        assert engine == (name,)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
