from django.urls import path

from timeline_site.timeline import views

urlpatterns = [
    path("", views.index, name="index"),
    path("orgs/<str:org_id>/lookup/", views.contact_lookup, name="contact_lookup"),
    path("orgs/<str:org_id>/contacts/<str:contact_id>/", views.contact_timeline, name="contact_timeline"),
    path("orgs/<str:org_id>/contacts/<str:contact_id>/spans/", views.contact_spans, name="contact_spans"),
    path("orgs/<str:org_id>/contacts/<str:contact_id>/export/", views.contact_export, name="contact_export"),
    path("orgs/<str:org_id>/contacts/<str:contact_id>/live/", views.contact_live, name="contact_live"),
]
