"""URLs: the public API under /api/ (docs at /api/docs) and the admin."""

from django.contrib import admin
from django.urls import path

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
