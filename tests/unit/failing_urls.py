"""A URLconf whose one view fails: what an unhandled error in a request looks like in the logs."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


class Boom(RuntimeError):
    """A bug in a view."""


def fail(request: HttpRequest) -> HttpResponse:
    raise Boom("the view broke")


urlpatterns = [path("boom", fail)]
