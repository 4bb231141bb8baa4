"""Drop ``seams_publication_once``, the unique ``(event_id, subscriber)`` index of the publications.

Nothing reads publications by event id (operators list them by status, type, subscriber, position;
handlers are told the event, they never look it up), and nothing relies on the database refusing a
second row for one event and subscriber: ``publish`` is the only writer, and it writes one row per
distinct subscriber of a new event id. Exactly-once effect is the inbox's job (``seams_inbox_once``,
kept). On SQLite the index cost every event 1.4-1.6 WAL pages of the 15.7 it wrote
(``bench/sqlite_pages.py``); see ``docs/events.md`` for what a lookup by event id costs without it.

Reversible: backwards the constraint is built again (the rows never break it).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("seams", "0005_publication_finished_index"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="publication", name="seams_publication_once"),
    ]
