"""The kernel's Django app (label ``seams``): start-up, system checks and management commands."""

from __future__ import annotations

from django.apps import AppConfig, apps


class KernelConfig(AppConfig):
    name = "contracts.kernel"
    label = "seams"
    verbose_name = "Seams kernel"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .discovery import import_contract_declarations, import_registrations
        from .modules import ModuleConfig, module_of
        from .registry import get_registry

        import_contract_declarations()
        for config in apps.get_app_configs():
            if isinstance(config, ModuleConfig):
                import_registrations(config.name)
        module_of.cache_clear()
        get_registry().freeze()
        self._start_telemetry()
        self._checkpoint_in_background()

    @staticmethod
    def _checkpoint_in_background() -> None:
        """The modules' SQLite files are checkpointed by a thread, not by commits (checkpoints.py)."""
        from django.db.backends.signals import connection_created

        from .checkpoints import on_connection_created

        connection_created.connect(on_connection_created, dispatch_uid="seams-checkpoints")

    @staticmethod
    def _start_telemetry() -> None:
        """Tracing when the [otel] extra is installed and OTEL_* asks for it (telemetry/tracing.py)."""
        from django.conf import settings

        from .telemetry.tracing import configure

        configure(getattr(settings, "SEAMS_SERVICE_NAME", None))
