"""``ModuleRouter``: each module's models live in its own database alias.

Reads and writes of a module's models go to the module's alias; its migrations run only there;
relations between models of two different modules are refused; a relation between a module's model
and a model listed in ``SEAMS_SHARED_MODELS`` (``auth.User``) is allowed. Django's own apps (auth,
contenttypes, sessions, admin) get no opinion (None) and so stay in ``default``, and they are kept
out of module aliases. The kernel's outbox and inbox tables are created in every module alias
and always used with an explicit ``.using(alias)``.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings

from .modules import ModuleConfig


def _module(app_label: str) -> ModuleConfig | None:
    try:
        config = apps.get_app_config(app_label)
    except LookupError:
        return None
    return config if isinstance(config, ModuleConfig) else None


def _shared(obj: Any) -> bool:
    """Is ``obj`` an instance of a model listed in ``settings.SEAMS_SHARED_MODELS`` (``"auth.User"`` or ``"auth"``)?"""
    shared = set(getattr(settings, "SEAMS_SHARED_MODELS", ()))
    return obj._meta.app_label in shared or obj._meta.label in shared


def _module_aliases() -> set[str]:
    return {c.database_alias for c in apps.get_app_configs() if isinstance(c, ModuleConfig)}


#: The kernel's own tables (outbox, publications, inbox) exist in every module database.
KERNEL_LABEL = "seams"


class ModuleRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        module = _module(model._meta.app_label)
        return module.database_alias if module else None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        first, second = _module(obj1._meta.app_label), _module(obj2._meta.app_label)
        if first and second and first.label != second.label:
            return False
        if (first is None) != (second is None) and (_shared(obj1) or _shared(obj2)):
            return True  # a module's model pointing at a framework model it may share (seams.E001's allow-list)
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if app_label == KERNEL_LABEL:
            return db in _module_aliases()
        module = _module(app_label)
        if module is not None:
            return db == module.database_alias
        if db in _module_aliases():
            return False
        return None
