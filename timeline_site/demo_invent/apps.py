from django.apps import AppConfig


class DemoInventConfig(AppConfig):
    name = "timeline_site.demo_invent"
    label = "demo_invent"
    verbose_name = "Demo Invent"
