"""What the stock admin pages show beside their own columns: filters kept within the user's
scope, badges, labels and the table of recent movements. Shared by the catalog, locations,
merchants and alerts admin pages."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.accounts.models import User
from apps.inventory.models import LedgerEntry, StockLevel, low_stock_q, out_of_stock_q
from apps.merchants.admin_scoping import access_for, locations_visible, merchants_visible

RECENT_MOVEMENTS = 20
LOW_STOCK, OUT_OF_STOCK = low_stock_q(), out_of_stock_q()
UUID_IN_TEXT = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")


# --- Filters whose choices stay within the user's scope ----------------------------------


class ScopedMerchantFilter(admin.RelatedFieldListFilter):
    def field_choices(self, field, request, model_admin):
        return [(m.pk, m.name) for m in merchants_visible(request.user).order_by("name")]


class ScopedLocationFilter(admin.RelatedFieldListFilter):
    def field_choices(self, field, request, model_admin):
        return [
            (loc.pk, f"{loc.code} ({loc.merchant.name})")
            for loc in locations_visible(request.user).order_by("merchant__name", "code")
        ]


class ActorFilter(admin.RelatedFieldListFilter):
    """People who belong to a merchant the user sees (never another merchant's staff)."""

    def field_choices(self, field, request, model_admin):
        users = User.objects.order_by("username")
        access = access_for(request.user)
        if not access.is_superuser:
            users = users.filter(memberships__merchant_id__in=access.merchants).distinct()
        return [(user.pk, user.get_username()) for user in users]


class StockStatusFilter(admin.SimpleListFilter):
    title = "stock status"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", "Low (at or below threshold)"), ("out", "Out of stock"), ("ok", "Healthy")]

    def queryset(self, request, queryset):
        if self.value() == "low":
            return queryset.filter(LOW_STOCK)
        if self.value() == "out":
            return queryset.filter(OUT_OF_STOCK)
        if self.value() == "ok":
            return queryset.exclude(LOW_STOCK | OUT_OF_STOCK)
        return queryset


class LastSoldFilter(admin.SimpleListFilter):
    """Slow movers: levels by the time of their last sale (`last_sold_at`)."""

    title = "last sold"
    parameter_name = "sold"
    DAYS = {"7d": 7, "30d": 30, "90d": 90}

    def lookups(self, request, model_admin):
        return [
            ("7d", "In the last 7 days"),
            ("not30d", "Not in the last 30 days"),
            ("not90d", "Not in the last 90 days"),
            ("never", "Never"),
        ]

    def queryset(self, request, queryset):
        value = self.value() or ""
        if value == "never":
            return queryset.filter(last_sold_at__isnull=True)
        days = self.DAYS.get(value.removeprefix("not"))
        if days is None:
            return queryset
        since = timezone.now() - timedelta(days=days)
        if value.startswith("not"):
            return queryset.filter(Q(last_sold_at__isnull=True) | Q(last_sold_at__lt=since))
        return queryset.filter(last_sold_at__gte=since)


def stock_badge(level: StockLevel) -> str:
    if level.available == 0:
        css, label = "out", "Out of stock"
    elif level.is_low:
        css, label = "low", "Low stock"
    else:
        css, label = "ok", "In stock"
    return format_html('<span class="sr-badge sr-badge-{}">{}</span>', css, label)


def actor_label(entry: LedgerEntry) -> str:
    """Who made a change: a person, an API key (by the name it had), or the system."""
    if entry.actor_id is not None:
        return entry.actor.get_username()
    if entry.actor_api_key_id is not None:
        return f"API key {entry.actor_api_key_name}"
    return "system"


def movements_table(entries: QuerySet[LedgerEntry], more_url: str | None = None) -> str:
    """The most recent ledger rows as a small HTML table, for product, location and stock
    level pages."""
    rows = list(
        entries.select_related("product", "location", "actor").order_by("-id")[:RECENT_MOVEMENTS]
    )
    if not rows:
        return format_html('<p class="help">{}</p>', "No movements yet.")
    body = format_html_join(
        "",
        "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class='sr-num'>{}</td>"
        "<td class='sr-num'>{}</td><td class='sr-num'>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                e.pk, e.created_at.strftime("%Y-%m-%d %H:%M"), e.product.sku, e.location.code,
                e.get_reason_display(), f"{e.on_hand_delta:+d}", e.on_hand_after,
                e.reserved_after, actor_label(e),
                e.get_source_display(), e.note or e.reference,
            )
            for e in rows
        ),
    )  # fmt: skip
    more = format_html('<p><a href="{}">All movements</a></p>', more_url) if more_url else ""
    return format_html(
        '<table class="sr-movements"><thead><tr><th>Entry</th><th>When</th><th>SKU</th>'
        "<th>Location</th><th>Reason</th><th>On hand Δ</th><th>On hand after</th>"
        "<th>Reserved after</th><th>Actor</th><th>Source</th><th>Note</th></tr></thead>"
        "<tbody>{}</tbody></table>{}",
        body,
        more,
    )


def ledger_url(**filters: object) -> str:
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return f"{reverse('admin:inventory_ledgerentry_changelist')}?{query}"


LEDGER_DELTAS = (
    ("on hand", "on_hand_delta"), ("reserved", "reserved_delta"), ("damaged", "damaged_delta"),
    ("in transit", "in_transit_delta"),
)  # fmt: skip


def ledger_change(entry: LedgerEntry) -> str:
    """The quantities a ledger row moved, one per line ("on hand -4", "reserved +4"); "-" for
    a row that moved none (a settings change)."""
    moved = [(label, getattr(entry, name)) for label, name in LEDGER_DELTAS if getattr(entry, name)]
    if not moved:
        return "-"
    return format_html_join(
        "",
        '<span class="sr-delta">{} {}</span>',
        ((label, f"{delta:+d}") for label, delta in moved),
    )


def with_hover(text: str, hover: str) -> str:
    """Short text for a dense list, the longer form shown on hover."""
    return format_html('<span title="{}">{}</span>', hover, text)


def short_uuid(value: object) -> str:
    """The first block of a UUID, the whole one on hover (the object's page shows it all)."""
    return with_hover(str(value).split("-")[0], str(value))


def location_label(location) -> str:
    """A location's code, its name on hover."""
    return with_hover(location.code, location.name)


class ReadOnlyInline(admin.TabularInline):
    """Lines shown on their parent's page: visible with the parent, never edited."""

    extra = 0
    can_delete = False
    classes = ["sr-lines"]  # rows without a label line: the columns say it all

    def has_view_permission(self, request, obj=None):
        return not access_for(request.user).is_empty

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
