"""PostgreSQL: the three partial indexes of ``seams_publication`` with their conditions as ``IN`` lists.

The same rows before and after: ``seams_pub_due`` and ``seams_pub_key_open`` hold the open
publications (pending, processing, failed), ``seams_pub_finished`` the finished ones (completed,
dead). Why: PostgreSQL 15 copies each partial index's condition out of the relation cache and
compiles it anew for every statement that writes the table (``RelationGetIndexPredicate``,
``ExecPrepareQual``), prepared or not, three indexes for the publish ``INSERT`` and three for the
completion ``UPDATE``. An ``IN`` list is one node with an array where the ``OR`` of equalities that
migration 0008 wrote is a boolean node over three comparisons: about 45,000 fewer server
instructions per event (callgrind of the backend, ``docs/events.md``). The readers' queries keep the
``OR`` of equalities (``models.open_condition``): PostgreSQL proves either form implies the other, so
the plans keep using the indexes (``test_outbox_indexes.py``). SQLite keeps 0008's equalities: there
an ``IN`` list costs a temporary b-tree per written row (``test_outbox_no_temp_btrees.py``). The
model's ``Meta.indexes`` keep 0008's ``Q``: Django does not compare an index's condition with the
database, and a fresh database runs 0008 and then this one.

Each index is dropped and built again from the rows the table holds; backwards, 0008's ``OR``.
"""

from django.db import migrations

OPEN = ("pending", "processing", "failed")
FINISHED = ("completed", "dead")
INDEXES = (
    ("seams_pub_due", 'next_attempt_at, "position"', OPEN),
    ("seams_pub_key_open", 'subscriber, key, "position"', OPEN),
    ("seams_pub_finished", "status, completed_at", FINISHED),
)


def _rebuild(as_in: bool):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, columns, statuses in INDEXES:
            if as_in:
                condition = "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"
            else:
                condition = " OR ".join(f"status = '{s}'" for s in statuses)
            schema_editor.execute(f"DROP INDEX {name}")
            schema_editor.execute(f"CREATE INDEX {name} ON seams_publication ({columns}) WHERE {condition}")

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("seams", "0009_publication_no_checks_on_postgresql"),
    ]

    operations = [
        migrations.RunPython(_rebuild(as_in=True), _rebuild(as_in=False), elidable=False),
    ]
