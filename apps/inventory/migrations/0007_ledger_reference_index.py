from django.db import migrations, models

import apps.core.migration_operations


class Migration(migrations.Migration):

    # CREATE INDEX CONCURRENTLY: the ledger keeps taking writes while the index builds.
    atomic = False

    dependencies = [
        ('inventory', '0006_reservation_line_bucket_index'),
    ]

    operations = [
        apps.core.migration_operations.AddIndexConcurrently(
            model_name='ledgerentry',
            index=models.Index(condition=models.Q(('reference', ''), _negated=True), fields=['merchant', 'reference'], name='ledger_reference_idx'),
        ),
    ]
