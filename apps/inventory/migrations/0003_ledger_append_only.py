"""On PostgreSQL, a trigger refuses UPDATE and DELETE of ledger rows: history cannot vanish,
whatever code or person connects to the database."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION inventory_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'inventory_ledgerentry is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER inventory_ledger_append_only
BEFORE UPDATE OR DELETE ON inventory_ledgerentry
FOR EACH ROW EXECUTE FUNCTION inventory_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS inventory_ledger_append_only ON inventory_ledgerentry;
DROP FUNCTION IF EXISTS inventory_ledger_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0002_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
