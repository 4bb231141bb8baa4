"""Transports (HTTP, Celery) and the extraction toolkit (``manage.py extract_module``).

Empty for now: the kernel's ``SEAMS_TRANSPORTS`` and ``SEAMS_EVENT_BACKEND`` settings are the
dotted-path hooks where these plug in, so the kernel never imports this package.
"""
