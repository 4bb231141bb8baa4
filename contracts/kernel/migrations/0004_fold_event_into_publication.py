"""Fold ``seams_outbox_event`` into ``seams_publication``: one row per publication, the event in it.

Publishing then writes one INSERT (one row per subscriber) instead of two, and a publication
updates one table and one unique index fewer. Every existing publication — pending, processing,
failed, dead or completed — gets its event's columns and keeps its position; an event that had no
publication (nobody subscribed to its type) becomes one completed row with subscriber ``''``, so
``manage.py events list`` still names it. The new publications' positions continue above every
existing one: a PostgreSQL sequence of their own, started past the highest; on SQLite the
``AUTOINCREMENT`` counter of ``seams_publication`` (positions there are the first publication's id),
raised to the highest position if an event's was higher.

Reversible: backwards, each distinct event becomes an ``seams_outbox_event`` row again.
"""

import django.db.models.deletion
from django.db import migrations, models

SEQUENCE = "seams_publication_position_seq"


def fold_events(apps, schema_editor):
    alias = schema_editor.connection.alias
    event_model = apps.get_model("seams", "OutboxEvent")
    publication_model = apps.get_model("seams", "Publication")
    publications = publication_model.objects.using(alias)
    for event in event_model.objects.using(alias).order_by("position").iterator():
        copied = publications.filter(event_id=event.position).update(
            event_uuid=event.event_id,
            version=event.version,
            payload=event.payload,
            headers=event.headers,
            publisher=event.publisher,
            occurred_at=event.occurred_at,
        )
        if not copied:  # nobody subscribed: the row that records the event
            publications.create(
                event=event,
                event_uuid=event.event_id,
                position=event.position,
                event_type=event.type,
                version=event.version,
                key=event.key,
                payload=event.payload,
                headers=event.headers,
                publisher=event.publisher,
                occurred_at=event.occurred_at,
                subscriber="",
                subscriber_module="",
                status="completed",
                attempts=0,
                created_at=event.occurred_at,
                next_attempt_at=event.occurred_at,
                completed_at=event.occurred_at,
            )


def unfold_events(apps, schema_editor):
    """Backwards, last: the rows that recorded events nobody subscribed to go (their events stay)."""
    apps.get_model("seams", "Publication").objects.using(schema_editor.connection.alias).filter(subscriber="").delete()


def unfold_links(apps, schema_editor):
    """Backwards, once ``seams_outbox_event`` and ``event`` are back: one event row per distinct
    event (its position kept), and each publication pointing at it."""
    alias = schema_editor.connection.alias
    event_model = apps.get_model("seams", "OutboxEvent")
    publications = apps.get_model("seams", "Publication").objects.using(alias)
    seen = set()
    for p in publications.order_by("position", "id").iterator():
        if p.event_uuid in seen:
            continue
        seen.add(p.event_uuid)
        event = event_model.objects.using(alias).create(
            position=p.position,
            event_id=p.event_uuid,
            type=p.event_type,
            version=p.version,
            key=p.key,
            payload=p.payload,
            headers=p.headers,
            publisher=p.publisher,
            occurred_at=p.occurred_at,
        )
        publications.filter(event_uuid=p.event_uuid).update(event=event)


def continue_positions(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
            cursor.execute(
                f"SELECT setval('{SEQUENCE}', COALESCE((SELECT MAX(position) FROM seams_publication), 0) + 1, false)"
            )
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT COALESCE(MAX(position), 0) FROM seams_publication")
            top = cursor.fetchone()[0]
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = 'seams_publication'")
            row = cursor.fetchone()
            if row is None:
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('seams_publication', %s)", [top])
            elif row[0] < top:
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = 'seams_publication'", [top])


def drop_positions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):

    dependencies = [
        ("seams", "0003_publication_event_no_extra_index"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="publication", name="seams_publication_once"),
        migrations.AddField(model_name="publication", name="event_uuid", field=models.UUIDField(null=True)),
        migrations.AddField(model_name="publication", name="version", field=models.PositiveIntegerField(default=1)),
        migrations.AddField(model_name="publication", name="payload", field=models.JSONField(null=True)),
        migrations.AddField(model_name="publication", name="headers", field=models.JSONField(default=dict)),
        migrations.AddField(model_name="publication", name="publisher", field=models.CharField(default="", max_length=100)),
        migrations.AddField(model_name="publication", name="occurred_at", field=models.DateTimeField(null=True)),
        migrations.RunPython(fold_events, unfold_events),
        migrations.AlterField(
            model_name="publication",
            name="event",
            field=models.ForeignKey(
                db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="publications",
                to="seams.outboxevent",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, unfold_links),
        migrations.RemoveField(model_name="publication", name="event"),
        migrations.DeleteModel(name="OutboxEvent"),
        migrations.RenameField(model_name="publication", old_name="event_uuid", new_name="event_id"),
        migrations.AlterField(model_name="publication", name="event_id", field=models.UUIDField()),
        migrations.AlterField(model_name="publication", name="payload", field=models.JSONField()),
        migrations.AlterField(model_name="publication", name="publisher", field=models.CharField(max_length=100)),
        migrations.AlterField(model_name="publication", name="occurred_at", field=models.DateTimeField()),
        migrations.AddConstraint(
            model_name="publication",
            constraint=models.UniqueConstraint(fields=("event_id", "subscriber"), name="seams_publication_once"),
        ),
        migrations.RunPython(continue_positions, drop_positions),
    ]
