from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.apikeys.models import ApiKey
from apps.apikeys.services import api_key_create, api_key_revoke


class ApiKeyCreationForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["merchant", "name", "read_only"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "merchant",
        "read_only",
        "created_at",
        "last_used_at",
        "active",
    ]
    list_filter = ["read_only", ("revoked_at", admin.EmptyFieldListFilter), "merchant"]
    search_fields = ["prefix", "name", "merchant__code", "merchant__name"]
    list_select_related = ["merchant"]
    readonly_fields = [
        "merchant",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    @admin.display(boolean=True)
    def active(self, api_key: ApiKey) -> bool:
        return api_key.is_active

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["merchant", "name", "read_only"]
        return [
            "merchant",
            "name",
            "prefix",
            "read_only",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name", "read_only"])
            return
        api_key, raw_key = api_key_create(
            merchant=form.cleaned_data["merchant"],
            name=form.cleaned_data["name"],
            read_only=form.cleaned_data["read_only"],
            created_by=request.user,
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        self.message_user(
            request,
            f"The new key is {raw_key} . Copy it now: it will not be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
        self.message_user(request, "Revoked. Those keys no longer authenticate.", messages.SUCCESS)
