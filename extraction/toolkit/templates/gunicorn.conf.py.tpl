"""gunicorn's settings for the {{ label }} service.

gunicorn reads ``./gunicorn.conf.py`` by itself, so ``gunicorn service.wsgi`` started from the
service's directory (the image's ``CMD``, the README's command) serves with these; a flag on the
command line still wins over them.

Threaded workers with HTTP keep-alive (``gthread``): the monolith's HTTP transport keeps a pool of
connections to this service, and a sync worker would close each one after a single answer, so
every call would pay a new TCP connection; threads also let a request wait on a call that comes back
to this service without blocking the worker. Measured on loopback before choosing
(``bench/http_workers.py`` in the monolith, ``bench/RESULTS-http-workers.md``): gthread against sync
and uvicorn for one contract call.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
#: Seconds an idle keep-alive connection stays open (below the client's 30 s pool expiry).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
