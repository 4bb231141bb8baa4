"""``manage.py module_data``: export and import one module's data, for moving it to its own server.

    manage.py module_data export orders --out orders.jsonl        # every row of orders' models
    manage.py module_data import orders orders.jsonl              # into orders' database alias
    manage.py module_data export orders --database orders_old     # another alias than the module's

The format is JSON lines, one object per row, as Django's ``jsonl`` serializer writes it
(``{"model": "orders.order", "pk": 1, "fields": {...}}``): a file ``manage.py loaddata
orders.jsonl --database orders`` also reads, and ``manage.py dumpdata orders --database orders
--format jsonl`` also writes. Only the module's own models are exported; an import refuses a file
holding another module's rows. Rows are saved by primary key, so importing the same file twice
changes nothing the second time; the import runs in one transaction and, on PostgreSQL, resets the
id sequences afterwards.
"""

from __future__ import annotations

import datetime
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.core import serializers
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction

from contracts.kernel.errors import UnknownName
from contracts.kernel.modules import ModuleConfig, get_module

FORMAT = "jsonl"


class LosslessEncoder(DjangoJSONEncoder):
    """Django's encoder cuts datetimes and times to milliseconds; a data move keeps microseconds."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime | datetime.time) and o.microsecond:
            text = o.isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text
        return super().default(o)


def module_models(module: ModuleConfig) -> list[type]:
    """The module's concrete models, each after the models it depends on (as dumpdata orders them)."""
    models = [m for m in module.get_models() if not m._meta.proxy and m._meta.managed]
    return serializers.sort_dependencies([(module, models)])


def export_rows(module: ModuleConfig, alias: str, stream: IO[str]) -> Counter[str]:
    """Write every row of the module's models from ``alias`` to ``stream``; returns counts per model."""
    counts: Counter[str] = Counter()
    for model in module_models(module):
        label = model._meta.label_lower
        counts[label] = 0

        def counted(rows: Iterator[Any], label: str = label) -> Iterator[Any]:
            for row in rows:
                counts[label] += 1
                yield row

        queryset = model._default_manager.using(alias).order_by(model._meta.pk.name)
        serializers.get_serializer(FORMAT)().serialize(
            counted(queryset.iterator(chunk_size=2000)), stream=stream, cls=LosslessEncoder
        )
    return counts


def _objects(module: ModuleConfig, stream: IO[str], alias: str) -> Iterator[Any]:
    for number, obj in enumerate(serializers.deserialize(FORMAT, stream, using=alias, handle_forward_references=True), 1):
        label = obj.object._meta.app_label
        if label != module.label:
            raise CommandError(
                f"Row {number} ({obj.object._meta.label_lower}) belongs to module '{label}', not '{module.label}'. "
                f"`module_data import {module.label}` takes only {module.label}'s rows; import each module's file "
                f"with its own label."
            )
        yield obj


def import_rows(module: ModuleConfig, alias: str, stream: IO[str]) -> Counter[str]:
    """Save every row of ``stream`` into ``alias`` in one transaction; returns counts per model."""
    counts: Counter[str] = Counter()
    connection = connections[alias]
    touched: set[type] = set()
    with transaction.atomic(using=alias):  # as loaddata does it
        with connection.constraint_checks_disabled():
            deferred = []
            for obj in _objects(module, stream, alias):
                obj.save(using=alias)
                if obj.deferred_fields:
                    deferred.append(obj)
                counts[obj.object._meta.label_lower] += 1
                touched.add(type(obj.object))
            for obj in deferred:
                obj.save_deferred_fields(using=alias)
        connection.check_constraints(table_names=[model._meta.db_table for model in touched])
        sequence_sql = connection.ops.sequence_reset_sql(no_style(), sorted(touched, key=lambda m: m._meta.label))
        if sequence_sql:
            with connection.cursor() as cursor:
                for sql in sequence_sql:
                    cursor.execute(sql)
    return counts


def describe(counts: Counter[str]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{label}: {n}" for label, n in counts.items()) or "no models"
    return f"{total} row{'s' if total != 1 else ''} ({parts})"


class Command(BaseCommand):
    help = "Export (JSON lines) or import one module's data, using the module's own database alias."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{export,import}")
        export = sub.add_parser("export", help="write every row of the module's models as JSON lines")
        export.add_argument("label", help="the module (manage.py modules lists them)")
        export.add_argument("--out", default=None, help="the file to write (default: standard output)")
        export.add_argument("--database", default=None, help="the alias to read (default: the module's own)")
        load = sub.add_parser("import", help="save the rows of a file written by export into the module's database")
        load.add_argument("label", help="the module the file belongs to")
        load.add_argument("file", help="a JSON lines file written by `module_data export` (or dumpdata --format jsonl)")
        load.add_argument("--database", default=None, help="the alias to write (default: the module's own)")

    def handle(self, *args: Any, action: str, label: str, **options: Any) -> None:
        try:
            module = get_module(label)
        except UnknownName as exc:
            raise CommandError(str(exc)) from None
        alias = options.get("database") or module.database_alias
        if alias not in connections.settings:
            raise CommandError(f"There is no database alias '{alias}'. Known: {', '.join(connections.settings)}.")
        if alias == DEFAULT_DB_ALIAS and module.database_alias != DEFAULT_DB_ALIAS:
            self.stderr.write(f"Note: '{alias}' is not {label}'s own alias ('{module.database_alias}').")
        try:
            if action == "export":
                self.export(module, alias, options.get("out"))
            else:
                self.load(module, alias, Path(options["file"]))
        except DatabaseError as exc:
            raise CommandError(
                f"Database '{alias}' failed: {exc}. Is it migrated? (manage.py migrate_modules)"
            ) from None

    def export(self, module: ModuleConfig, alias: str, out: str | None) -> None:
        if out:
            path = Path(out)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            try:
                with partial.open("w", encoding="utf-8") as stream:
                    counts = export_rows(module, alias, stream)
                partial.replace(path)  # a failed export leaves no half-written file behind
            finally:
                partial.unlink(missing_ok=True)
            self.stdout.write(f"Exported {describe(counts)} of module '{module.label}' from database '{alias}' to {path}.")
        else:
            # The raw stream: Django's OutputWrapper would add a line ending to every write.
            counts = export_rows(module, alias, getattr(self.stdout, "_out", sys.stdout))
            self.stderr.write(f"Exported {describe(counts)} of module '{module.label}' from database '{alias}'.")

    def load(self, module: ModuleConfig, alias: str, path: Path) -> None:
        if not path.is_file():
            raise CommandError(f"{path} does not exist (write it with `manage.py module_data export {module.label} --out {path}`).")
        known = {m._meta.label_lower for m in module_models(module)}
        if not known:
            raise CommandError(f"Module '{module.label}' has no models: there is nothing to import.")
        with path.open(encoding="utf-8") as stream:
            try:
                counts = import_rows(module, alias, stream)
            except serializers.base.DeserializationError as exc:
                raise CommandError(f"{path} is not a JSON lines export of module '{module.label}': {exc}") from None
        self.stdout.write(f"Imported {describe(counts)} into module '{module.label}', database '{alias}', from {path}.")

