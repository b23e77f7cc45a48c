"""Django settings for Contact Timeline.

Every value comes from the environment (see README.md and .env.example). With
nothing set, the dashboard runs on the embedded demo Invent with SQLite and an
in-process cache. With DJANGO_DEBUG off the defaults are production-grade: a
real secret key is required, HTTPS is enforced and cookies are Secure.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from timeline_site.core.env import (
    database_from_url,
    demo_management_command,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    # The README's demo commands (`manage.py demo_invent_add_activity …`) run in a fresh shell
    # with nothing set; with the embedded demo as the upstream they sign nothing that outlives
    # the process. Servers (gunicorn, runserver) and `check` still need a key with DEBUG off.
    if not (DEBUG or demo_management_command(sys.argv, demo_upstream=not env_str("INVENT_API_URL"))):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. It is required when DJANGO_DEBUG is off; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # A fresh, unguessable key per process (sessions do not survive a restart).
    SECRET_KEY = "dev-insecure-" + secrets.token_urlsafe(40)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "timeline_site.core",
    "timeline_site.timeline",
    "timeline_site.demo_invent",
]

# Frame embedding: CRMs that show the dashboard in an iframe are listed here.
FRAME_ANCESTORS = env_list("DJANGO_FRAME_ANCESTORS")

MIDDLEWARE = [
    "timeline_site.core.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "timeline_site.core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Server-Timing (upstream vs. the dashboard's own time) on every dynamic response.
    "timeline_site.core.server_timing.ServerTimingMiddleware",
    # Compresses HTML pages and fragments (WhiteNoise serves static files pre-compressed);
    # Django's version pads its output against BREACH, and CSRF tokens are masked per response.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Caps each request's upstream calls and charges them to its user's share of the budget.
    "timeline_site.core.upstream.UpstreamAllowanceMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "timeline_site.core.middleware.HtmxAwareLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "timeline_site.core.middleware.ViewerTimeZoneMiddleware",
]
if not FRAME_ANCESTORS:
    # X-Frame-Options cannot express an allow-list, so it is only sent when
    # nobody may frame the dashboard; CSP frame-ancestors says the same thing.
    MIDDLEWARE.append("django.middleware.clickjacking.XFrameOptionsMiddleware")
X_FRAME_OPTIONS = "DENY"
# A form without the CSRF cookie: in a CRM's frame, a browser that blocks third-party cookies (core/embed.py).
CSRF_FAILURE_VIEW = "timeline_site.core.embed.csrf_failure"

ROOT_URLCONF = "timeline_site.urls"
WSGI_APPLICATION = "timeline_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "timeline_site.core.context_processors.viewer",
                "timeline_site.core.embed.embed",
            ],
        },
    },
    {
        # The activity cards: fifty a page, each chosen through the kinds registry. Jinja2 through
        # Django's own backend (autoescape on) renders them several times faster than Django
        # templates (see README, "Benchmark"); the page around them stays a Django template.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "cards",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "timeline_site.timeline.jinja.environment"},
    },
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL"), sqlite_default=str(BASE_DIR / "db.sqlite3")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "ct")
# "default" holds pages, fragments, stale copies and sessions, and may evict them.
# "counters" holds only the sign-in throttle and the upstream budget, which must
# not be pushed out by the page cache filling up.
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        },
        "counters": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{CACHE_KEY_PREFIX}-counters",
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "contact-timeline",
        },
        # A store of its own (not DatabaseCache: it culls at MAX_ENTRIES too, and its incr
        # is a read then a write, not atomic). Entries live at most 15 minutes (sign-in) or
        # about a minute (budget); each new sign-in entry costs a password hash, so a process
        # cannot make more than some tens of thousands in 15 minutes. Culling drops the least
        # recently used first, so a live counter is only dropped after more than 600,000
        # newer entries.
        "counters": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "contact-timeline-counters",
            "OPTIONS": {"MAX_ENTRIES": 1_000_000},
        },
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["timeline_site.core.auth.DashboardBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Links in notes written as a bare "example.com" open over HTTPS (Django's urlize), as Django will by default.
URLIZE_ASSUME_HTTPS = True

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic writes (and WhiteNoise serves from): a directory of its own
# per deployment, benchmark or test server, so no run rewrites another's files.
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "timeline_site.core.static_files.MinifiedStaticFilesStorage",
    },
}

# --- Security -------------------------------------------------------------
# Secure by default when DEBUG is off; each default can be relaxed on its own
# for a plain-HTTP trial (see README "Trying production mode without TLS").
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# Sessions live in the database and are read through the (shared) cache.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_SAMESITE = "None" if FRAME_ANCESTORS and SESSION_COOKIE_SECURE else "Lax"
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_HOURS", 12, minimum=1) * 3600
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Load balancers whose X-Forwarded-For names the client (addresses or networks),
# for the sign-in throttle and the audit trail.
TRUSTED_PROXIES = env_list("DJANGO_TRUSTED_PROXIES")
# The TLS-terminating proxy is trusted by gunicorn (forwarded_allow_ips), which
# sets wsgi.url_scheme; Django then needs no SECURE_PROXY_SSL_HEADER.

# --- Invent ---------------------------------------------------------------
INVENT_API_URL = env_str("INVENT_API_URL").rstrip("/")
INVENT_API_KEY = env_str("INVENT_API_KEY")
INVENT_CONNECT_TIMEOUT = env_float("INVENT_CONNECT_TIMEOUT", 3.05, minimum=0.1)
INVENT_READ_TIMEOUT = env_float("INVENT_READ_TIMEOUT", 10.0, minimum=0.1)
# Upstream pages are cached this long (0 turns the cache off) and a stale copy
# is kept this long to show, marked "may be out of date", when Invent fails.
INVENT_CACHE_SECONDS = env_int("INVENT_CACHE_SECONDS", 15)
INVENT_STALE_SECONDS = env_int("INVENT_STALE_SECONDS", 600)
# Upstream calls a minute for all processes and hosts together (Invent allows 500
# per client address); shared through the cache, so set REDIS_URL when running
# more than one process. 0 turns the budget off.
INVENT_BUDGET_PER_MINUTE = env_int("INVENT_BUDGET_PER_MINUTE", 450)
# Each user's share of that minute (by account; by address when signed out), so one person
# cannot spend it for everyone: a third lets three heavy users run at once while one
# person paging fast (~10 pages a minute, a handful of calls each) never meets it. 0: off.
INVENT_BUDGET_PER_USER_PER_MINUTE = env_int("INVENT_BUDGET_PER_USER_PER_MINUTE", INVENT_BUDGET_PER_MINUTE // 3)
# Upstream attempts (retries included) one dashboard request may make. The largest honest
# page is one stream per selected type (7 at most: all 8 is one unfiltered stream) plus
# the contact, i.e. 8, with 4 to spare for refilling short pages or a retry; a crafted
# cursor that asks for more gets a clear refusal instead. 0: no cap.
INVENT_MAX_CALLS_PER_REQUEST = env_int("INVENT_MAX_CALLS_PER_REQUEST", 12)
# Upstream calls one export may make (100 activities each, so 1000 is a 100,000-activity timeline);
# still charged to its user's share and paused while the shared budget is nearly spent. 0: no cap.
TIMELINE_EXPORT_MAX_CALLS = env_int("TIMELINE_EXPORT_MAX_CALLS", 1000)
# Activities per timeline page (and per upstream request); Invent caps take at 100.
TIMELINE_PAGE_SIZE = min(env_int("TIMELINE_PAGE_SIZE", 50, minimum=1), 100)
TIMELINE_PHONE_REGION = env_str("TIMELINE_PHONE_REGION", "GB").upper()  # ISO country of numbers typed without "+"

# The embedded demo Invent: used whenever INVENT_API_URL is empty.
DEMO_INVENT_ENABLED = not INVENT_API_URL
DEMO_INVENT_API_KEY = env_str("DEMO_INVENT_API_KEY", "demo")
DEMO_INVENT_LATENCY_MS = env_int("DEMO_INVENT_LATENCY_MS", 0)
# Several activity types are several upstream streams, and a page's timeline and contact record are read
# at once: fetch them in parallel, off the request's thread (the in-process demo too, like a real Invent:
# each pool thread has its own database connection). The test suite turns it off (pyproject.toml): its
# database lives in one connection's transaction.
INVENT_PARALLEL_FETCH = env_bool("INVENT_PARALLEL_FETCH", True)
# A full page waits this long for Invent before it sends its frame and streams the cards after it
# (timeline/streaming.py); 0: it always waits. Streaming needs INVENT_PARALLEL_FETCH.
TIMELINE_STREAM_AFTER_MS = env_int("TIMELINE_STREAM_AFTER_MS", 800, minimum=0)

# Images (avatars, attachments) come from Invent's file hosts in production;
# the demo serves its own from this origin.
CSP_IMG_SOURCES = env_list("DJANGO_CSP_IMG_SRC", "" if DEMO_INVENT_ENABLED else "https:")

SECURE_CSP = {
    "default-src": [CSP.NONE],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, *CSP_IMG_SOURCES],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "manifest-src": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
    "frame-ancestors": FRAME_ANCESTORS or [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Contact searches put e-mail addresses in the query string: request lines are logged without it.
    "filters": {"no_query_string": {"()": "timeline_site.core.log_filters.StripQueryString"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "urllib3": {"level": "WARNING"},
        # runserver's request log, as Django sets it up, plus the filter.
        "django.server": {
            "handlers": ["django.server"],
            "filters": ["no_query_string"],
            "level": "INFO",
            "propagate": False,
        },
    },
}
