import django.db.models.deletion
from django.db import migrations, models

import apps.core.migration_operations


class Migration(migrations.Migration):

    # CREATE INDEX CONCURRENTLY: the ledger keeps taking writes while the index builds. The
    # new columns are nullable or have a constant default, and carry no constraint to
    # validate: adding them changes only the catalog.
    atomic = False

    dependencies = [
        ('apikeys', '0001_initial'),
        ('inventory', '0007_idempotency_record_to_core'),
    ]

    operations = [
        apps.core.migration_operations.AddIndexConcurrently(
            model_name='ledgerentry',
            index=models.Index(condition=models.Q(('reference', ''), _negated=True), fields=['merchant', 'reference'], name='ledger_reference_idx'),
        ),
        migrations.AddField(
            model_name='bucketledgerentry',
            name='actor_api_key',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='apikeys.apikey'),
        ),
        migrations.AddField(
            model_name='bucketledgerentry',
            name='actor_api_key_name',
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name='ledgerentry',
            name='actor_api_key',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='apikeys.apikey'),
        ),
        migrations.AddField(
            model_name='ledgerentry',
            name='actor_api_key_name',
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name='ledgerentry',
            name='occurred_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
