"""The event publication registry in Django's admin: publications (each holding its event), inbox
entries and archived publications, per module database, read-only, with a resubmit action.

The kernel's tables exist once per module database (``contracts/kernel/models.py``), so each list
has a *module* filter that picks the database (the first module served here until one is picked; a
row's page keeps the choice through the admin's preserved filters). Nothing can be added, edited or
deleted here: an event is a published fact, a publication's status is the delivery machinery's
record, an inbox row is what makes a redelivery harmless; editing any of them by hand would break
at-least-once delivery or exactly-once effect. The one change offered is the supported one:
*resubmit* (``contracts.kernel.operations.resubmit``), which puts failed or dead publications back to
pending with fresh attempts, as ``manage.py events resubmit`` and the console do.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.utils.html import format_html

from contracts.kernel.models import ArchivedPublication, InboxEntry, Publication
from contracts.kernel.operations import resubmit
from contracts.kernel.outbox import module_aliases

__all__ = ["ArchivedPublicationAdmin", "InboxEntryAdmin", "PublicationAdmin"]


def selected_alias(request: HttpRequest) -> str | None:
    """The module database the request is about: ``?module=``, else the preserved changelist filter,
    else the first module served here; None when this process serves no module."""
    aliases = module_aliases()
    chosen = request.GET.get("module") or QueryDict(request.GET.get("_changelist_filters", "")).get("module")
    if chosen in aliases:
        return chosen
    return aliases[0] if aliases else None


class ModuleFilter(admin.SimpleListFilter):
    """Which module database to list (there is no "all": the rows live in separate databases)."""

    title = "module"
    parameter_name = "module"

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        self.request = request
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(alias, alias) for alias in module_aliases()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset  # the database is chosen in ModuleDatabaseAdmin.get_queryset

    def choices(self, changelist: Any) -> Any:
        current = selected_alias(self.request)
        for value, label in self.lookup_choices:
            yield {
                "selected": value == current,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class ModuleDatabaseAdmin(admin.ModelAdmin):
    """Lists and shows rows of the selected module database; never adds, edits or deletes."""

    list_filter: tuple[Any, ...] = (ModuleFilter,)
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        alias = selected_alias(request)
        queryset = super().get_queryset(request)
        return queryset.using(alias) if alias else queryset.none()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    # A NUL character in a row's id or a search term: no row can match it, and PostgreSQL refuses
    # it in a text parameter (DataError, a 500) where SQLite just finds nothing. The inbox's
    # primary key is text since migration 0007, so its change page takes any string.
    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        if "\x00" in object_id:
            return None  # the admin answers "does not exist", as for any unknown id
        return super().get_object(request, object_id, from_field)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


def _pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


@admin.register(Publication)
class PublicationAdmin(ModuleDatabaseAdmin):
    list_display = ("id", "event_type", "subscriber", "status", "attempts", "next_attempt_at", "short_error")
    list_filter = (ModuleFilter, "status", "event_type", "subscriber_module")
    search_fields = ("event_type", "subscriber", "last_error")
    actions = ("resubmit_selected",)
    fields = (
        "id", "event_id", "event_type", "version", "key", "position", "publisher", "occurred_at", "subscriber", "subscriber_module", "status", "attempts",
        "created_at", "next_attempt_at", "dispatched_at", "claimed_by", "lease_until", "completed_at",
        "last_error", "last_traceback", "pretty_payload", "pretty_headers",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="payload")
    def pretty_payload(self, obj: Publication) -> str:
        return _pretty(obj.payload)

    @admin.display(description="headers")
    def pretty_headers(self, obj: Publication) -> str:
        return _pretty(obj.headers)

    @admin.display(description="last error")
    def short_error(self, obj: Publication) -> str:
        return obj.last_error if len(obj.last_error) <= 120 else obj.last_error[:119] + "…"

    @admin.action(description="Resubmit the selected failed or dead publications")
    def resubmit_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        refs = [f"{queryset.db}:{pk}" for pk in queryset.values_list("pk", flat=True)]
        count = resubmit(refs=refs) if refs else 0
        skipped = len(refs) - count
        message = f"Resubmitted {count} publication{'s' if count != 1 else ''}"
        if skipped:
            message += f"; {skipped} left alone (only failed or dead ones are resubmitted)"
        self.message_user(request, message + ".", messages.SUCCESS if count else messages.WARNING)


@admin.register(InboxEntry)
class InboxEntryAdmin(ModuleDatabaseAdmin):
    list_display = ("event_id", "subscriber", "handled_at")  # the primary key is the two (migration 0007)
    search_fields = ("event_id", "subscriber")
    readonly_fields = ("event_id", "subscriber", "handled_at")
    ordering = ("-handled_at",)


@admin.register(ArchivedPublication)
class ArchivedPublicationAdmin(ModuleDatabaseAdmin):
    list_display = ("id", "event_type", "subscriber", "attempts", "completed_at")
    search_fields = ("event_type", "subscriber", "event_id")
    fields = ("id", "event_id", "event_type", "key", "subscriber", "attempts", "occurred_at", "completed_at", "pretty_payload")
    readonly_fields = fields

    @admin.display(description="payload")
    def pretty_payload(self, obj: ArchivedPublication) -> str:
        return _pretty(obj.payload)
