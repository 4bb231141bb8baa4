"""The public REST API: one NinjaAPI, each module's router mounted under ``/api/<module>/``.

The machinery (strict JSON parser, rate limits, error handlers with the one status map, the
OpenAPI statuses) is ``extraction.publicapi``'s, shared with every generated service.
"""

from __future__ import annotations

from django.conf import settings

from extraction.publicapi import build_public_api, mount_module_routers

api = build_public_api(
    title="Seams reference shop",
    description=(
        "A modular monolith: each path group is served by one module. Writes to the catalog and the "
        "stock need a staff token (scope shop:staff); orders and notifications a customer token "
        "(scope shop:customer, with the customer's email). `manage.py dev_tokens` prints both in development."
    ),
)

mount_module_routers(api, list(settings.SEAMS_MODULES))
