"""gunicorn settings for `make serve` and for every production app host.

Each value can be overridden from the environment, so a host is configured the
same way as the app itself. gthread workers: one process per core for Django's
CPU work, and threads in each, so requests waiting on Invent do not hold a core.
"""

from __future__ import annotations

import os
from typing import Any


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)  # a malformed value stops the server at start-up, loudly
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


wsgi_app = "timeline_site.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
worker_class = "gthread"
workers = _env_int("GUNICORN_WORKERS", os.cpu_count() or 1)
threads = _env_int("GUNICORN_THREADS", 8)

# The TLS-terminating proxy (load balancer) sets X-Forwarded-Proto; gunicorn
# trusts it from these addresses only and then sets wsgi.url_scheme to https.
# List the load balancer's addresses or networks here, never "*" on a host
# that can be reached without going through it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# A request can wait on Invent for up to ~40 s in the worst case (every retry
# timing out); gthread workers heartbeat from their main thread, so this only
# catches a process that is truly stuck.
timeout = _env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Behind a load balancer, set this above the balancer's idle timeout (e.g. 65 for
# a 60 s one), so the balancer, not gunicorn, closes idle connections and never
# sends a request down one gunicorn has just closed. Idle keep-alive connections
# wait in gthread's poller, not in a thread.
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then, so a slow leak can never take a host down.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10

# Logs to stdout/stderr for the process supervisor; %(M)s is the response time in ms.
# The request line is written as method, path (%(U)s) and protocol, without the query
# string: contact searches carry e-mail addresses, names and phone numbers in it
# (%(r)s and %(q)s would log them; the referrer, %(f)s, is not logged either).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

# Several instances may share a host (benchmarks, tests, blue/green): none of
# them needs gunicorn's per-user control socket, and they would fight over it.
control_socket_disable = True


def when_ready(server: Any) -> None:
    count = server.cfg.workers  # the command line may have overridden `workers` above
    if count > 1 and not os.environ.get("REDIS_URL", "").strip():
        server.log.warning(
            "REDIS_URL is not set: each of the %d workers has its own page cache and its own upstream "
            "budget, so together they may send Invent %d times INVENT_BUDGET_PER_MINUTE. Set REDIS_URL.",
            count,
            count,
        )
