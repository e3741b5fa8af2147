"""The outbox's topics: one list says what each event is and where it is published."""

import pytest

from apps.inventory.models import OutboxEvent
from apps.inventory.outbox import PARTNER_TOPICS, STOCK_STREAM, TOPICS, outbox_append, topic_of
from apps.webhooks.models import EventType


@pytest.mark.django_db
def test_an_undeclared_topic_is_refused(merchant):
    with pytest.raises(ValueError, match=r"stock\.teleported"):
        outbox_append(merchant_id=merchant.pk, topic="stock.teleported", payload={})
    assert not OutboxEvent.objects.exists()


def test_partners_subscribe_to_the_partner_topics_of_the_list():
    assert [value for value, _ in EventType.choices] == list(PARTNER_TOPICS) == [
        "stock.changed", "stock.bucket_changed", "stock.low", "stock.replenished",
        "reservation.expired", "reservation.returned", "reservation.substituted",
        "transfer.received",
    ]  # fmt: skip
    assert dict(EventType.choices)["stock.low"] == TOPICS["stock.low"].label


def test_alerts_are_streamed_live_and_only_their_partner_topics_go_to_partners():
    assert TOPICS["alert.triggered"].stream == "alert.event"
    assert not TOPICS["alert.triggered"].partners
    assert TOPICS["stock.low"].stream is None
    assert TOPICS["stock.low"].partners


def test_a_topic_of_a_newer_release_is_published_as_every_stock_event():
    newer = topic_of("stock.teleported")
    assert (newer.stream, newer.partners) == (STOCK_STREAM, True)
