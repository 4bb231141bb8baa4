"""``/console/``: the page, its two JSON endpoints (polled by the page), the resubmit action and a
login page for processes without the admin (extracted services: ``SEAMS_CONSOLE_LOGIN_URL =
"console:login"``)."""

from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.index, name="index"),
    path("stats.json", views.stats, name="stats"),
    path("health.json", views.health, name="health"),
    path("resubmit", views.resubmit, name="resubmit"),
    path("login/", views.login, name="login"),
]
