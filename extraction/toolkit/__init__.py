"""The extraction toolkit behind ``manage.py extract_module``.

* :mod:`.plan` — what extracting a module takes: the contract declarations it needs, what blocks it
  (its Seams system checks and import-linter contracts), the one change the monolith needs;
* :mod:`.render` — the files of the service (settings, URLs, entry points, Dockerfile, Kubernetes
  manifests, README), rendered from the small templates under ``templates/``, plus the copied
  sources;
* :mod:`.writer` — writes them idempotently and reports what it did.
"""
