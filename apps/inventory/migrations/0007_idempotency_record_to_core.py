# The idempotency record now lives in the core app (core 0001), on the same table: this drops
# it from the inventory app's state only, leaving the table and its rows untouched.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0006_reservation_line_bucket_index'),
        ('core', '0001_idempotency_record'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='IdempotencyRecord')],
            database_operations=[],
        ),
    ]
