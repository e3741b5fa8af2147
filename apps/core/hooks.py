"""Hooks: how a layer lets the layers above it act on what it did without importing them.

The owner of a hook sends it; apps above connect their receivers in `AppConfig.ready()`. So the
stock engine fires `outbox_committed` when a transaction wrote outbox rows and never learns that
the events app publishes them (the shape of Zulip's `zerver/tornado/django_api.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

Receiver = Callable[..., Any]


class Hook:
    """Receivers called, in the order they connected, with the keyword arguments of `send`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.receivers: list[Receiver] = []

    def __repr__(self) -> str:
        return f"<Hook {self.name}>"

    def connect(self, receiver: Receiver) -> Receiver:
        """Add a receiver (once however often it connects). Call from `AppConfig.ready()`."""
        if receiver not in self.receivers:
            self.receivers.append(receiver)
        return receiver

    def send(self, **arguments: Any) -> None:
        """Call every receiver; an exception propagates to the sender (it is part of its work)."""
        for receiver in list(self.receivers):
            receiver(**arguments)

    def send_robust(self, **arguments: Any) -> None:
        """Call every receiver; one that raises is logged and stops neither the others nor the
        sender (for work that a periodic job catches up on)."""
        for receiver in list(self.receivers):
            try:
                receiver(**arguments)
            except Exception:
                logger.exception("Receiver %s of %s failed", _name(receiver), self)


class AfterCommitHook(Hook):
    """A hook sent, without arguments, once the transaction that asked for it commits."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # One callable per hook, so that a transaction can tell it has registered it already.
        self.send_committed = self.send_robust

    def send_on_commit(self, using: str | None = None) -> None:
        """Send once the current transaction commits (at once outside a transaction).

        Registers one callback per transaction however many times it is asked. A rolled-back
        savepoint drops its callback (Django's rule), and the next call registers it again.
        """
        connection = transaction.get_connection(using)
        if connection.in_atomic_block and any(
            func is self.send_committed for _, func, _ in connection.run_on_commit
        ):
            return
        transaction.on_commit(self.send_committed, using=using, robust=True)


def _name(receiver: Receiver) -> str:
    return getattr(receiver, "__qualname__", repr(receiver))


# Sent after every commit that wrote outbox rows (see apps.inventory.outbox).
outbox_committed = AfterCommitHook("outbox committed")
