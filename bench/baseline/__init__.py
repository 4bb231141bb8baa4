"""Hand-written baselines for ``bench/transports.py``: what a developer would write without Seams.

* ``api``: a django-ninja endpoint ``POST /bench/raw/get_product`` (mounted by ``urls`` beside the
  project's own URLs, so the same gunicorn serves it and the transport's generated endpoints);
* ``tasks``: a Celery task ``bench.raw_get_product``.

Both do the same work as ``Catalog.get_product`` served by a transport: they call the catalog
implementation's ``get_product`` directly (one ORM query), so a ratio transport/raw isolates what
the transport adds.
"""
