"""Who else hears about alerts: a small registry of listeners configured in settings.

Dashboards and partner webhooks get every alert event through the outbox (see
`apps.alerts.services`); listeners are for the rest (the log, email).
`STOCKROOM_ALERT_LISTENERS` lists dotted paths of callables `listener(alert, event)`, where
`event` is "triggered", "acknowledged" or "resolved". They run after the alert's transaction
commits, one after the other; a listener that raises is logged and never stops the others
(nor, since alerts are evaluated outside stock transactions, any stock change).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from apps.alerts.models import Alert
from apps.merchants.models import Membership

logger = logging.getLogger(__name__)

Listener = Callable[[Alert, str], Any]

DEFAULT_LISTENERS = (
    "apps.alerts.listeners.log_listener",
    "apps.alerts.listeners.email_listener",
)


@functools.cache
def _load(paths: tuple[str, ...]) -> tuple[Listener, ...]:
    return tuple(import_string(path) for path in paths)


def get_listeners() -> tuple[Listener, ...]:
    return _load(tuple(getattr(settings, "STOCKROOM_ALERT_LISTENERS", DEFAULT_LISTENERS)))


def notify_listeners(alert: Alert, event: str) -> None:
    for listener in get_listeners():
        try:
            listener(alert, event)
        except Exception:
            logger.exception(
                "Alert listener %s failed on alert %s (%s)",
                getattr(listener, "__name__", listener),
                alert.pk,
                event,
            )


def log_listener(alert: Alert, event: str) -> None:
    level = logging.WARNING if event == "triggered" else logging.INFO
    logger.log(level, "Alert %s %s: %s", alert.pk, event, alert.message)


def email_recipients(alert: Alert) -> list[str]:
    """Owners and managers of the merchant (managers only for their locations), plus the
    addresses in STOCKROOM_ALERT_EMAILS."""
    memberships = (
        Membership.objects.filter(
            merchant_id=alert.merchant_id,
            role__in=[Membership.Role.OWNER, Membership.Role.MANAGER],
            user__is_active=True,
        )
        .exclude(user__email="")
        .select_related("user")
        .prefetch_related("locations")
    )
    emails = set(getattr(settings, "STOCKROOM_ALERT_EMAILS", []))
    for membership in memberships:
        scoped = {loc.pk for loc in membership.locations.all()}
        if (
            membership.role == Membership.Role.MANAGER
            and scoped
            and alert.location_id not in scoped
        ):
            continue
        emails.add(membership.user.email)
    return sorted(emails)


def email_listener(alert: Alert, event: str) -> None:
    """Email the people responsible when an alert is triggered."""
    if event != "triggered":
        return
    recipients = email_recipients(alert)
    if not recipients:
        return
    lines = [alert.message]
    if alert.reorder_quantity:
        lines.append(f"Suggested reorder: {alert.reorder_quantity} units.")
    lines.append("Acknowledge it in the admin under Alerts.")
    send_mail(
        subject=f"[Stockroom] {alert.get_kind_display()}: {alert.message}"[:200],
        message="\n\n".join(lines),
        from_email=None,
        recipient_list=recipients,
    )
