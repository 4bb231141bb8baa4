"""The bench's URLconf (``bench.settings``): the project's URLs plus the raw baseline endpoint."""

from django.urls import path

from app.urls import urlpatterns as project_urlpatterns

from .api import api

urlpatterns = [path("bench/raw/", api.urls), *project_urlpatterns]
