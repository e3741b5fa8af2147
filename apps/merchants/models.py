from django.conf import settings
from django.db import models


class Merchant(models.Model):
    """A tenant. Every product, location, stock level and ledger row belongs to exactly one."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role at a merchant. Managers may be limited to some locations."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MANAGER = "manager", "Warehouse manager"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    locations = models.ManyToManyField(
        "locations.Location",
        blank=True,
        related_name="memberships",
        help_text="For managers: the locations they work on. Empty means every location.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "merchant"], name="membership_user_merchant_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.merchant} ({self.get_role_display().lower()})"
