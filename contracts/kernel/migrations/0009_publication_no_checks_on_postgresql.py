"""PostgreSQL: ``seams_publication`` without the ``CHECK (attempts >= 0)`` and ``CHECK (version >= 0)``
constraints Django gives its two ``PositiveIntegerField`` columns.

Why: PostgreSQL 15 reads a table's check constraints from their stored text (``stringToNode``) and
compiles them anew for every statement that writes the table, prepared or not: the publish
``INSERT`` and the completion ``UPDATE`` each parsed and compiled both, about 61,000 of the ~592,000
server instructions those two statements (and their transactions) cost per event (callgrind of the
backend, ``docs/events.md``, "What one event costs PostgreSQL's server"). Nothing writes a negative
value there: ``attempts`` is written 0 or 1 and counted up by the kernel only, ``version`` comes from
the event's contract. The fields stay ``PositiveIntegerField`` (Django's validation and forms still
refuse a negative value); only the database's own re-check on every write goes. SQLite keeps its
checks (it evaluates them from the compiled statement, without that cost), so this does nothing there.

Reversible: backwards the two constraints come back under Django's names, validated against the rows.
"""

from django.db import migrations

COLUMNS = ("attempts", "version")


def drop_checks(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)"
            " WHERE c.conrelid = 'seams_publication'::regclass AND c.contype = 'c' AND a.attname = ANY (%s)",
            [list(COLUMNS)],
        )
        names = sorted({name for (name,) in cursor.fetchall()})
    for name in names:
        schema_editor.execute(f"ALTER TABLE seams_publication DROP CONSTRAINT {schema_editor.quote_name(name)}")


def add_checks(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(
            f'ALTER TABLE seams_publication ADD CONSTRAINT "seams_publication_{column}_check" CHECK ("{column}" >= 0)'
        )


class Migration(migrations.Migration):

    dependencies = [
        ("seams", "0008_publication_open_equalities"),
    ]

    operations = [
        migrations.RunPython(drop_checks, add_checks, elidable=False),
    ]
