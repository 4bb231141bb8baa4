"""The status index holds finished rows only: ``seams_pub_status (status, completed_at)`` over every
row becomes ``seams_pub_finished``, the same columns for completed and dead rows.

Every publication is written open (pending or processing) and most complete within a second, so the
old index cost each one an insert at publish and a delete plus an insert at completion; the readers
that need it (purge, dead letters, listing by a finished status) only look at finished rows. Open
rows are found through the open partial indexes (``seams_pub_due``, ``seams_pub_key_open``).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("seams", "0004_fold_event_into_publication"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="publication", name="seams_pub_status"),
        migrations.AddIndex(
            model_name="publication",
            index=models.Index(
                condition=models.Q(("status", "completed"), ("status", "dead"), _connector="OR"),
                fields=["status", "completed_at"],
                name="seams_pub_finished",
            ),
        ),
    ]
