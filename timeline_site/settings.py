"""Django settings for Contact Timeline.

Every value comes from the environment (see README.md and .env.example). With
nothing set, the dashboard runs on the embedded demo Invent with SQLite and an
in-process cache. With DJANGO_DEBUG off the defaults are production-grade: a
real secret key is required, HTTPS is enforced and cookies are Secure.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from timeline_site.env import (
    database_from_url,
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
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. It is required when DJANGO_DEBUG is off; "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Development only: a fresh key per process (sessions do not survive a restart).
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
    "timeline_site.timeline",
    "timeline_site.demo_invent",
]

# Frame embedding: CRMs that show the dashboard in an iframe are listed here.
FRAME_ANCESTORS = env_list("DJANGO_FRAME_ANCESTORS")

MIDDLEWARE = [
    "timeline_site.timeline.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Server-Timing (upstream vs. the dashboard's own time) on every dynamic response.
    "timeline_site.timeline.server_timing.ServerTimingMiddleware",
    # Compresses HTML pages and fragments (WhiteNoise serves static files pre-compressed);
    # Django's version pads its output against BREACH, and CSRF tokens are masked per response.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "timeline_site.timeline.middleware.HtmxAwareLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "timeline_site.timeline.middleware.ViewerTimeZoneMiddleware",
]
if not FRAME_ANCESTORS:
    # X-Frame-Options cannot express an allow-list, so it is only sent when
    # nobody may frame the dashboard; CSP frame-ancestors says the same thing.
    MIDDLEWARE.append("django.middleware.clickjacking.XFrameOptionsMiddleware")
X_FRAME_OPTIONS = "DENY"

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
                "timeline_site.timeline.context_processors.viewer",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL"), sqlite_default=str(BASE_DIR / "db.sqlite3")),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "ct"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "contact-timeline",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["timeline_site.timeline.auth.DashboardBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

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
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
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
# Activities per timeline page (and per upstream request); Invent caps take at 100.
TIMELINE_PAGE_SIZE = min(env_int("TIMELINE_PAGE_SIZE", 50, minimum=1), 100)

# The embedded demo Invent: used whenever INVENT_API_URL is empty.
DEMO_INVENT_ENABLED = not INVENT_API_URL
DEMO_INVENT_API_KEY = env_str("DEMO_INVENT_API_KEY", "demo")
DEMO_INVENT_LATENCY_MS = env_int("DEMO_INVENT_LATENCY_MS", 0)
# Several activity types are several upstream streams: fetch them in parallel
# (the in-process demo shares the request's database connection, so it cannot).
INVENT_PARALLEL_FETCH = env_bool("INVENT_PARALLEL_FETCH", not DEMO_INVENT_ENABLED)

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
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}},
}
