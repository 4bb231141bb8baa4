"""Who may use the console: active staff users (Django's ``is_staff``), nobody else.

The page sends anyone else to the login page (``SEAMS_CONSOLE_LOGIN_URL``, default the admin's
login, ``admin:login``); its JSON endpoints and the resubmit action answer 403 instead, since a
script or a forged form has nothing to log in with. A process without Django's authentication
(no ``request.user``) serves the console to nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import resolve_url

__all__ = ["is_operator", "staff_only"]

View = Callable[..., HttpResponse]


def is_operator(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def staff_only(*, login_redirect: bool) -> Callable[[View], View]:
    """Let staff through; send the others to the login page (``login_redirect``) or answer 403."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if is_operator(request):
                return view(request, *args, **kwargs)
            if login_redirect and hasattr(request, "user"):
                login_url = resolve_url(getattr(settings, "SEAMS_CONSOLE_LOGIN_URL", "admin:login"))
                return redirect_to_login(request.get_full_path(), login_url)
            return JsonResponse({"detail": "The operator console is for staff users; log in first."}, status=403)

        return wrapper

    return decorate
