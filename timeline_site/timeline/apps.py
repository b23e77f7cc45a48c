from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "timeline_site.timeline"
    label = "timeline"
    verbose_name = "Contact timeline"
