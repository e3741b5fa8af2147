import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q

KEY_NAMESPACE = "sr_"


def hash_key(raw_key: str) -> str:
    """A fast digest is right here: the secret has 256 bits of entropy, nothing to brute-force."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """A merchant's credential for the REST API. Only a SHA-256 digest of the secret is stored;
    the visible `prefix` (the key's first characters) identifies it in lists and logs."""

    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, help_text="What uses this key, e.g. 'Shop backend'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(
        default=False, help_text="Read-only keys may read everything but change nothing."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["merchant_id", "-created_at"]
        verbose_name = "API key"
        indexes = [
            models.Index(
                fields=["merchant", "created_at"],
                name="apikey_active_idx",
                condition=Q(revoked_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
