"""The hook the stock engine calls inside its transaction: publish the outbox after commit.

Kept free of imports from the rest of the project so the engine can import it cheaply.
"""

from django.db import transaction


def _dispatch_soon() -> None:
    from apps.events.services import outbox_dispatch_soon

    outbox_dispatch_soon()


def dispatch_after_commit(using: str | None = None) -> None:
    """Ask for the outbox to be published once the current transaction commits.

    Registers one callback per transaction however many times it is called: a service that
    moves stock several times still triggers a single dispatch. A rolled-back savepoint drops
    its callback (Django's rule), and the next call registers it again.
    """
    connection = transaction.get_connection(using)
    if connection.in_atomic_block and any(
        func is _dispatch_soon for _, func, _ in connection.run_on_commit
    ):
        return
    transaction.on_commit(_dispatch_soon, using=using, robust=True)
