"""Channel-layer group names. Every group is scoped to one merchant, so a subscriber can only
ever be handed events of the merchant it was authorised for."""

import redis

# The channel layer's Redis cannot be reached: worth trying again later, unlike other failures.
CHANNEL_LAYER_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)


def merchant_group(merchant_id: int) -> str:
    """Every event of the merchant."""
    return f"stock.m{merchant_id}"


def location_group(merchant_id: int, location_id: int) -> str:
    """Events about one location of the merchant (stock changes, low-stock alerts)."""
    return f"stock.m{merchant_id}.l{location_id}"


def groups_for(merchant_id: int, location_id: int | None) -> list[str]:
    """Where an event is published: the merchant group, plus its location's group if any."""
    groups = [merchant_group(merchant_id)]
    if location_id is not None:
        groups.append(location_group(merchant_id, location_id))
    return groups
