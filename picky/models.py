"""The platform core: projects (tenants), memberships and API tokens."""

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"Unknown time zone {value!r}; use an IANA name such as Asia/Kolkata."
        )


def default_http_rate_limit():
    return settings.PICKY_HTTP_RATE_LIMIT_PER_MINUTE


def default_retention_days():
    return settings.PICKY_DEFAULT_RETENTION_DAYS


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    alert_email = models.EmailField(blank=True)
    retention_days = models.PositiveIntegerField(default=default_retention_days)
    http_rate_limit_per_minute = models.PositiveIntegerField(default=default_http_rate_limit)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self):
        return zoneinfo.ZoneInfo(self.time_zone)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        AGENT = "agent", "Agent"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="unique_membership")
        ]

    def __str__(self):
        return f"{self.user} in {self.project} ({self.role})"


def hash_api_token(raw_token):
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiToken(models.Model):
    """A project's API token. Only the SHA-256 of the token is stored."""

    PREFIX = "pk_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=12, editable=False)
    allowed_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.name} ({self.token_prefix}…)"

    @classmethod
    def issue(cls, project, name, allowed_ip=None):
        """Create a token and return (row, raw token); the raw token is never stored."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            project=project,
            name=name,
            token_hash=hash_api_token(raw),
            token_prefix=raw[:10],
            allowed_ip=allowed_ip or None,
        )
        return row, raw
