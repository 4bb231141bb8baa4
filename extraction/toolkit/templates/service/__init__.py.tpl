"""The {{ label }} service's composition root: settings, URLs, the API, the Celery app, WSGI/ASGI."""

from .celery import celery_app

__all__ = ["celery_app"]
