"""The ``extraction`` Django app: it exists so that its management commands are found.

``manage.py extract_module`` (write a module out as a service) and ``manage.py module_data``
(export and import one module's data) live in ``extraction/management/commands/``.
"""

from django.apps import AppConfig


class ExtractionConfig(AppConfig):
    name = "extraction"
    label = "extraction"
    verbose_name = "Seams extraction toolkit"
