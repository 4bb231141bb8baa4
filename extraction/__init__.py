"""Transports (HTTP, Celery) and the extraction toolkit (``manage.py extract_module``).

The kernel never imports this package: ``app/settings.py`` plugs it in through the kernel's
dotted-path settings (``SEAMS_BINDINGS`` read by :mod:`extraction.bindings`, ``SEAMS_TRANSPORTS``).
"""
