"""WSGI entry point for the demo Invent on its own, e.g.

gunicorn --threads 8 -b 127.0.0.1:8001 timeline_site.demo_invent.wsgi
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timeline_site.settings")
django.setup()

from timeline_site.demo_invent import app  # noqa: E402 (models need django.setup() first)

application = app.with_db_cleanup(app.application)
