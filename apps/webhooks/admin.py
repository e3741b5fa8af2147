from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.merchants.admin_scoping import ScopedAdminMixin
from apps.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import (
    webhook_delivery_retry_now,
    webhook_endpoint_disable,
    webhook_endpoint_enable,
    webhook_ping,
)
from apps.webhooks.signing import generate_secret


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=EventType.choices, widget=forms.CheckboxSelectMultiple, required=True
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("merchant", "name", "url", "event_types", "is_active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("https://", "http://")):
            raise forms.ValidationError("Use an http(s) URL.")
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ScopedAdminMixin, admin.ModelAdmin):
    change_role = "owner"  # owners configure where their merchant's events go
    form = WebhookEndpointForm
    list_display = (
        "name", "merchant", "url", "is_active", "event_list", "consecutive_failures",
        "disabled_at", "delivery_log",
    )  # fmt: skip
    list_filter = ("is_active", ("merchant", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "url")
    readonly_fields = (
        "secret", "consecutive_failures", "disabled_at", "disabled_reason", "created_at",
        "updated_at",
    )  # fmt: skip
    actions = ("send_test_event", "enable", "disable", "rotate_secret")

    @admin.display(description="events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)

    @admin.display(description="deliveries")
    def delivery_log(self, endpoint: WebhookEndpoint) -> str:
        url = reverse("admin:webhooks_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">log</a>', url, endpoint.pk)

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_event(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            webhook_ping(endpoint=endpoint)
        self.message_user(request, "Test events queued; see the delivery log.", messages.SUCCESS)

    @admin.action(description="Enable (and retry pending deliveries)", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = sum(webhook_endpoint_enable(endpoint=endpoint) for endpoint in queryset)
        self.message_user(request, f"Enabled {done} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = sum(
            webhook_endpoint_disable(endpoint=endpoint, reason=f"Disabled by {request.user}")
            for endpoint in queryset
        )
        self.message_user(request, f"Disabled {done} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            endpoint.secret = generate_secret()
            endpoint.save(update_fields=["secret", "updated_at"])
        self.message_user(request, "New secrets set: give them to the partners.", messages.WARNING)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ScopedAdminMixin, admin.ModelAdmin):
    change_role = "owner"  # the "retry now" action
    allow_add = allow_delete = False
    list_display = (
        "id", "created_at", "endpoint", "event_type", "status", "attempts", "response_code",
        "last_attempt_at", "next_attempt_at", "last_error",
    )  # fmt: skip
    list_filter = (
        "status",
        "event_type",
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("endpoint", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("endpoint",)
    search_fields = ("event_key",)
    date_hierarchy = "created_at"
    actions = ("retry_now",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = sum(webhook_delivery_retry_now(delivery=delivery) for delivery in queryset)
        self.message_user(request, f"Queued {done} delivery(ies).", messages.SUCCESS)
