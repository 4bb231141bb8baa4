"""The console is an app only so that Django finds its templates (``templates/console/``)."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "extraction.console"
    label = "seams_console"
    verbose_name = "Seams operator console"
