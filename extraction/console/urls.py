"""``/console/``: the page, its two JSON endpoints (polled by the page) and the resubmit action."""

from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    path("stats.json", views.stats, name="stats"),
    path("health.json", views.health, name="health"),
    path("resubmit", views.resubmit, name="resubmit"),
]
