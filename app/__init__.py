"""The composition root: settings, URLs, the Celery app and the WSGI/ASGI entry points."""

from .celery import celery_app

__all__ = ["celery_app"]
