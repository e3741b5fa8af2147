"""Migration operations that are safe on a live database (see docs/operations.md)."""

from django.contrib.postgres import operations as postgres_operations
from django.db.migrations.operations import AddIndex


class AddIndexConcurrently(postgres_operations.AddIndexConcurrently):
    """`CREATE INDEX CONCURRENTLY` on PostgreSQL: the table keeps taking writes while the index
    builds. Elsewhere (SQLite on the embedded defaults) a plain `CREATE INDEX`. The migration
    using it must set `atomic = False`."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
