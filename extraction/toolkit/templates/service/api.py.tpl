"""The service's public REST API: each served module's router under ``/api/<module>/``.

The machinery is the monolith's (``extraction.publicapi``): the same parser, rate limits, token
checks, error bodies and status map, so a client sees the same answers whichever process serves.
"""

from __future__ import annotations

from django.conf import settings

from extraction.publicapi import build_public_api, mount_module_routers

api = build_public_api(
    title="{{ label }} service",
    description="The {{ label }} module of the Seams monolith, served on its own.",
)

mount_module_routers(api, list(settings.SEAMS_MODULES))
