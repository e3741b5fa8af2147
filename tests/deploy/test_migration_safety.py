"""Migrations stay safe to run on a live database: nothing rewrites or long-locks the large,
hot tables (stock levels, ledger, reservations, outbox, idempotency). See docs/operations.md,
"Schema changes on a live database"."""

from __future__ import annotations

import pytest
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.utils import timezone

HOT_MODELS = {
    ("inventory", name)
    for name in (
        "stocklevel", "ledgerentry", "reservation", "reservationline", "outboxevent",
        "idempotencyrecord", "transfer", "transferline",
    )
} | {("core", "idempotencyrecord")}  # fmt: skip

# (app_label, migration name): why this exception is safe. Keep it empty if you can.
ALLOWED: dict[tuple[str, str], str] = {}


def problems_of(migration: migrations.Migration, before: ProjectState) -> list[str]:
    """What in `migration` would rewrite or long-lock an existing hot table. An app's initial
    migrations build empty tables, and so does any migration for the tables it creates."""
    if migration.initial:
        return []
    found = []
    state = before.clone()
    new_models: set = set()
    for operation in migration.operations:
        model_key = _model_key(migration.app_label, operation)
        if isinstance(operation, migrations.CreateModel):
            new_models.add(model_key)
        elif model_key in HOT_MODELS and model_key not in new_models:
            problem = _problem(operation, state, model_key, migration.atomic)
            if problem:
                found.append(f"{migration.app_label}.{migration.name}: {problem}")
        operation.state_forwards(migration.app_label, state)
    return found


def _model_key(app_label: str, operation) -> tuple[str, str] | None:
    name = getattr(operation, "model_name", None) or getattr(operation, "name", None)
    if isinstance(operation, migrations.RenameModel):
        name = operation.old_name
    return (app_label, name.lower()) if isinstance(name, str) else None


def _problem(operation, state: ProjectState, model_key, atomic: bool) -> str | None:
    label = f"{type(operation).__name__} on {model_key[1]}"
    if isinstance(operation, migrations.AddField):
        field = operation.field
        if not field.null and field.has_default() and callable(field.default):
            return f"{label}.{operation.name}: NOT NULL with a computed default rewrites every row"
        return None
    if isinstance(operation, migrations.AlterField):
        old = state.models[model_key].fields[operation.name]
        new = operation.field
        old_type, new_type = old.db_type(connection), new.db_type(connection)
        if old_type != new_type and not _is_widening(old_type, new_type):
            return f"{label}.{operation.name}: type {old_type} -> {new_type} rewrites the table"
        if old.null and not new.null:
            return f"{label}.{operation.name}: SET NOT NULL scans the table under an exclusive lock"
        return None
    if isinstance(
        operation,
        migrations.RemoveField
        | migrations.RenameField
        | migrations.RenameModel
        | migrations.DeleteModel,
    ):
        return f"{label}: running code still uses the old schema (deploy code first, then drop)"
    if isinstance(operation, AddIndexConcurrently):
        return "AddIndexConcurrently in an atomic migration" if atomic else None
    if isinstance(operation, migrations.AddIndex):
        return f"{label}: builds the index under a write lock (use AddIndexConcurrently)"
    if isinstance(operation, migrations.AddConstraint):
        return f"{label}: validates every row under an exclusive lock (add it NOT VALID in SQL)"
    return None


def _is_widening(old_type: str, new_type: str) -> bool:
    """varchar(n) -> varchar(m > n) and varchar -> text change only the catalog."""
    if old_type.startswith("varchar") and new_type == "text":
        return True
    if old_type.startswith("varchar(") and new_type.startswith("varchar("):
        return int(new_type[8:-1]) >= int(old_type[8:-1])
    return False


def all_problems(loader: MigrationLoader) -> list[str]:
    found: list[str] = []
    for key in _ordered(loader):
        migration = loader.graph.nodes[key]
        before = loader.project_state(key, at_end=False)
        for problem in problems_of(migration, before):
            if key not in ALLOWED:
                found.append(problem)
    return found


def _ordered(loader: MigrationLoader) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for leaf in loader.graph.leaf_nodes():
        for key in loader.graph.forwards_plan(leaf):
            if key not in seen:
                seen.append(key)
    return seen


def test_no_migration_rewrites_or_long_locks_a_hot_table():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert ("inventory", "0001_initial") in loader.graph.nodes
    assert all_problems(loader) == []


def test_a_later_migration_on_an_existing_table_is_checked():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    before = loader.project_state(("inventory", "0003_ledger_append_only"), at_end=True)
    later = migrations.Migration("0099_later", "inventory")
    later.operations = [
        migrations.AddIndex("stocklevel", models.Index(fields=["on_hand"], name="x"))
    ]
    assert len(problems_of(later, before)) == 1


# --- The checker itself catches what it should --------------------------------------------


@pytest.fixture(scope="module")
def current_state() -> ProjectState:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return loader.project_state()


def check(operations, state, atomic=True) -> list[str]:
    migration = migrations.Migration("9999_probe", "inventory")
    migration.operations = operations
    migration.atomic = atomic
    return problems_of(migration, state)


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (migrations.AddField("stocklevel", "counted_at", models.DateTimeField(default=timezone.now)), "computed default"),
        (migrations.AlterField("ledgerentry", "on_hand_delta", models.BigIntegerField()), "rewrites the table"),
        (migrations.AlterField("reservation", "closed_at", models.DateTimeField()), "SET NOT NULL"),
        (migrations.RemoveField("stocklevel", "max_level"), "old schema"),
        (migrations.RenameField("ledgerentry", "note", "comment"), "old schema"),
        (migrations.AddIndex("ledgerentry", models.Index(fields=["reason"], name="ledger_reason_idx")), "AddIndexConcurrently"),
        (migrations.AddConstraint("stocklevel", models.CheckConstraint(condition=models.Q(version__lt=10**12), name="v")), "NOT VALID"),
    ],
)  # fmt: skip
def test_the_checker_refuses_dangerous_operations(current_state, operation, expected):
    problems = check([operation], current_state)
    assert len(problems) == 1
    assert expected in problems[0]


def test_the_checker_allows_safe_operations(current_state):
    safe = [
        migrations.AddField("stocklevel", "bin", models.CharField(max_length=20, default="")),
        migrations.AddField("ledgerentry", "batch", models.CharField(max_length=20, null=True)),
        migrations.AlterField("ledgerentry", "note", models.CharField(max_length=1000, blank=True)),
    ]
    assert check(safe, current_state) == []
    concurrently = AddIndexConcurrently(
        "ledgerentry", models.Index(fields=["reason"], name="ledger_reason_idx")
    )
    assert check([concurrently], current_state, atomic=False) == []
    assert check([concurrently], current_state, atomic=True) != []
    # A new table may be built any way: it is empty.
    fresh = [
        migrations.CreateModel("Bin", [("id", models.BigAutoField(primary_key=True))]),
        migrations.AddIndex("bin", models.Index(fields=["id"], name="bin_idx")),
    ]
    assert check(fresh, current_state) == []


@pytest.mark.django_db(transaction=True)  # sqlmigrate refuses to render it inside a transaction
def test_the_portable_concurrent_index_is_concurrent_on_postgresql():
    from io import StringIO

    from django.core.management import call_command

    from apps.core.migration_operations import AddIndexConcurrently as Portable

    assert issubclass(Portable, AddIndexConcurrently)
    out = StringIO()
    call_command("sqlmigrate", "inventory", "0004", stdout=out)
    assert 'CREATE INDEX CONCURRENTLY "stocklevel_low_idx"' in out.getvalue()
