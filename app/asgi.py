"""ASGI entry point (uvicorn app.asgi:application)."""

import os

from django.core.asgi import get_asgi_application

from extraction.settings.cli import load_settings_for_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
load_settings_for_server()  # a settings mistake: one line, no traceback
application = get_asgi_application()
