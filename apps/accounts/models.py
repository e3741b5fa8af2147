from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The people who sign in. What they may see comes from their merchant memberships."""
