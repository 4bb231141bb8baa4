"""The shop bench's URLconf (``bench.shop_settings``): the project's URLs plus the plain shop."""

from django.urls import path

from bench.baseline.urls import urlpatterns as bench_urlpatterns

from .api import api

urlpatterns = [path("bench/plain/", api.urls), *bench_urlpatterns]
