"""WSGI entry point (gunicorn service.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from extraction.settings.cli import load_settings_for_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "service.settings")
load_settings_for_server()  # a settings mistake: one line, no traceback
application = get_wsgi_application()
