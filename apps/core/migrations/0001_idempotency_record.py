# The idempotency record moves from the inventory app to core. Its table (still named
# inventory_idempotencyrecord) and rows stay as they are: this changes only Django's state.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('inventory', '0006_reservation_line_bucket_index'),
        ('merchants', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='IdempotencyRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255)),
                        ('operation', models.CharField(max_length=64)),
                        ('fingerprint', models.CharField(max_length=64)),
                        ('result', models.JSONField(default=dict)),
                        ('response_status', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('response_body', models.JSONField(blank=True, null=True)),
                        ('created_at', models.DateTimeField()),
                        ('merchant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='merchants.merchant')),
                    ],
                    options={
                        'db_table': 'inventory_idempotencyrecord',
                        'indexes': [models.Index(fields=['created_at'], name='idempotency_created_idx')],
                        'constraints': [models.UniqueConstraint(fields=('merchant', 'key'), name='idempotency_merchant_key_uniq')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
