from django.db import migrations, models

import apps.core.migration_operations


class Migration(migrations.Migration):

    # CREATE INDEX CONCURRENTLY: reservation lines keep taking writes while the index builds.
    atomic = False

    dependencies = [
        ('inventory', '0005_stock_buckets'),
    ]

    operations = [
        apps.core.migration_operations.AddIndexConcurrently(
            model_name='reservationline',
            index=models.Index(condition=models.Q(('bucket__isnull', False)), fields=['bucket'], name='reservationline_bucket_idx'),
        ),
    ]
