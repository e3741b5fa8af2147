"""Hooks: the owner sends, the layers above receive, the owner never imports them."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from apps.core.hooks import AfterCommitHook, Hook


def test_receivers_are_called_in_order_once_each():
    hook, calls = Hook("probe"), []
    first = hook.connect(lambda **kw: calls.append(("first", kw)))
    hook.connect(first)  # connecting again changes nothing (ready() may run twice)
    hook.connect(lambda **kw: calls.append(("second", kw)))
    hook.send(sku="SKU-1")
    assert calls == [("first", {"sku": "SKU-1"}), ("second", {"sku": "SKU-1"})]


def test_send_propagates_and_send_robust_logs(caplog):
    hook, calls = Hook("probe"), []

    def broken(**kw):
        raise RuntimeError("receiver down")

    hook.connect(broken)
    hook.connect(lambda **kw: calls.append(kw))
    with pytest.raises(RuntimeError):
        hook.send(n=1)
    assert calls == []
    with caplog.at_level(logging.ERROR, logger="apps.core.hooks"):
        hook.send_robust(n=2)
    assert calls == [{"n": 2}]
    assert "receiver down" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_after_commit_hook_sends_once_per_committed_transaction():
    hook, calls = AfterCommitHook("probe"), []
    hook.connect(lambda: calls.append("sent"))
    with transaction.atomic():
        hook.send_on_commit()
        hook.send_on_commit()
        assert calls == []
    assert calls == ["sent"]
    with transaction.atomic():
        hook.send_on_commit()
        transaction.set_rollback(True)
    assert calls == ["sent"]
    hook.send_on_commit()  # outside a transaction: at once
    assert calls == ["sent", "sent"]
