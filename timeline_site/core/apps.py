from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The site shell: settings helpers, sign-in, middleware, health check and logging."""

    name = "timeline_site.core"
    label = "core"
    verbose_name = "Site"
