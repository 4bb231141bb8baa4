"""The open partial indexes' condition as three equalities joined by ``OR`` instead of an ``IN`` list.

``seams_pub_due`` and ``seams_pub_key_open`` hold the open publications (pending, processing,
failed), the same rows before and after. SQLite evaluates a partial index's condition for every row
a statement writes, and ``status IN ('pending', 'processing', 'failed')`` through a temporary b-tree
of the three values that every such statement builds anew: two per publish (one per index), four per
completion batch (the old and the new row of each). Written as equalities it is compared in place
(``models.open_condition``, which the readers of open rows repeat so that SQLite still uses the
indexes; ``tests/unit/test_outbox_no_temp_btrees.py``). Each index is dropped and built again from
the rows the table holds; backwards, the same with the ``IN`` list.
"""

from django.db import migrations, models

OPEN = models.Q(("status", "pending"), ("status", "processing"), ("status", "failed"), _connector="OR")


class Migration(migrations.Migration):

    dependencies = [
        ("seams", "0007_inbox_one_btree"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="publication", name="seams_pub_due"),
        migrations.RemoveIndex(model_name="publication", name="seams_pub_key_open"),
        migrations.AddIndex(
            model_name="publication",
            index=models.Index(condition=OPEN, fields=["next_attempt_at", "position"], name="seams_pub_due"),
        ),
        migrations.AddIndex(
            model_name="publication",
            index=models.Index(condition=OPEN, fields=["subscriber", "key", "position"], name="seams_pub_key_open"),
        ),
    ]
