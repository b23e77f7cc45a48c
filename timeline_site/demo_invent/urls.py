"""Mounted by the project at `/demo-invent/` (the in-process demo's public base)."""

from django.urls import path

from timeline_site.demo_invent import views

app_name = "demo_invent"

urlpatterns = [
    path("assets/<str:name>", views.asset, name="asset"),
]
