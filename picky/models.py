"""The platform core: projects (tenants), memberships and API tokens."""

import hashlib
import re
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, URLValidator
from django.db import models


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"Unknown time zone {value!r}; use an IANA name such as Asia/Kolkata."
        )


DEFAULT_CHATGPT_BASE_URL = "https://api.openai.com/v1"
NON_DIGITS = re.compile(r"\D+")


def default_http_rate_limit():
    return settings.PICKY_HTTP_RATE_LIMIT_PER_MINUTE


def default_api_rate_limit():
    return settings.PICKY_API_RATE_LIMIT_PER_MINUTE


def default_retention_days():
    return settings.PICKY_DEFAULT_RETENTION_DAYS


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    alert_email = models.EmailField(blank=True)
    retention_days = models.PositiveIntegerField(default=default_retention_days)
    http_rate_limit_per_minute = models.PositiveIntegerField(default=default_http_rate_limit)
    api_rate_limit_per_minute = models.PositiveIntegerField(
        "API rate limit per minute",
        default=default_api_rate_limit,
        validators=[MinValueValidator(1)],
        help_text="Requests the REST API and the Push API accept from this project's tokens "
        "per minute; more are refused (429) and its owners and admins are mailed.",
    )
    chatgpt_api_key = models.CharField(
        "ChatGPT API key",
        max_length=300,
        blank=True,
        help_text="Key of the OpenAI API (or of a compatible server) used by the ChatGPT action.",
    )
    # A CharField with a URL validator: the form URLField would guess a scheme for "api.x.io".
    chatgpt_base_url = models.CharField(
        "ChatGPT base URL",
        max_length=300,
        default=DEFAULT_CHATGPT_BASE_URL,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Base URL of an OpenAI-compatible API; /chat/completions is added to it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped with every change of the project's global variables (picky/global_variables.py):
    # a process's copy of them stays good while the project's revision is the same.
    globals_revision = models.PositiveBigIntegerField(default=0, editable=False)
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
    # Digits with country code, as contacts' numbers are stored (crm), so a message's
    # recipient compares with it plainly.
    phone = models.CharField(
        # Room for the number as typed ("+91 98470 12345"); stored as digits.
        max_length=30,
        blank=True,
        help_text="WhatsApp number with country code, e.g. 919847012345. Messages to it "
        "(alerts to this member) never add the member as a contact.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="unique_membership")
        ]

    def __str__(self):
        return f"{self.user} in {self.project} ({self.role})"

    def clean(self):
        self.phone = NON_DIGITS.sub("", self.phone or "").lstrip("0")
        if self.phone and not 7 <= len(self.phone) <= 15:
            raise ValidationError(
                {"phone": "Enter the number with its country code: 7 to 15 digits."}
            )


def hash_api_token(raw_token):
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiToken(models.Model):
    """A project's API token. Only the SHA-256 of the token is stored."""

    PREFIX = "pk_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=12, editable=False)
    allowed_ip = models.GenericIPAddressField(
        "Allowed IP",
        null=True,
        blank=True,
        help_text="Only requests from this address may use the token; empty: any address.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(
        default=False, help_text="A revoked token is refused; revoking is final."
    )

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.token_prefix}…)"

    def save(self, *args, **kwargs):
        # Revoking is final, whatever saves the row: a revoked token never works again.
        revoked = ApiToken.objects.filter(pk=self.pk, revoked=True)
        if not self._state.adding and not self.revoked and revoked.exists():
            raise ValidationError(
                f"API token {self} is revoked, and revoking is final: add a new token "
                "(Admin › API tokens › Add, or `manage.py create_api_token`)."
            )
        super().save(*args, **kwargs)

    def draw_secret(self):
        """Give this unsaved token a new secret; returns the raw token, which is never
        stored (only its hash and first characters are)."""
        raw = self.PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_api_token(raw)
        self.token_prefix = raw[:10]
        return raw

    @classmethod
    def issue(cls, project, name, allowed_ip=None):
        """Create a token and return (row, raw token)."""
        row = cls(project=project, name=name, allowed_ip=allowed_ip or None)
        raw = row.draw_secret()
        row.save()
        return row, raw


class RateLimitWindow(models.Model):
    """Hits of one rate-limited scope in one fixed one-minute window (picky/ratelimit.py).

    A table, not process memory, so the limit holds across web and worker processes.
    """

    scope = models.CharField(max_length=100)
    window_start = models.BigIntegerField(help_text="Unix time of the window's first second.")
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "window_start"], name="unique_rate_window")
        ]

    def __str__(self):
        return f"{self.scope} @ {self.window_start}: {self.hits}"


class AlertState(models.Model):
    """Throttled alert mail of one failing source, e.g. an action (picky/alerts.py)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_states")
    source = models.CharField(max_length=100, help_text='What fails, e.g. "action:42".')
    label = models.CharField(max_length=300, help_text="What fails, in words, for the mail.")
    link = models.CharField(max_length=500, blank=True, help_text="Where to look, in the mail.")
    subject = models.CharField(
        max_length=200,
        blank=True,
        help_text="The mail's subject; empty: one saying what failed and how often.",
    )
    mail_interval = models.DurationField(
        null=True,
        blank=True,
        help_text="At most one mail per this long; empty: PICKY_ALERT_INTERVAL_SECONDS.",
    )
    recipients = models.JSONField(default=list, blank=True)
    pending_failures = models.PositiveIntegerField(
        default=0, help_text="Failures since the last alert mail."
    )
    latest_error = models.TextField(blank=True)
    latest_failure_at = models.DateTimeField(null=True, blank=True)
    last_mailed_at = models.DateTimeField(null=True, blank=True)
    mails_sent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "source"], name="unique_alert_source")
        ]
        indexes = [
            models.Index(
                fields=["last_mailed_at"],
                name="alert_pending_sweep",
                condition=models.Q(pending_failures__gt=0),
            )
        ]

    def __str__(self):
        return self.label or self.source


GLOBAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_global_name(value):
    if not GLOBAL_NAME.match(value):
        raise ValidationError(
            f"{value!r} is not a global's name: use letters, digits and _ (not starting "
            "with a digit), so that templates read it as globals.NAME."
        )


class GlobalVariable(models.Model):
    """A project's named value, read in every template as `globals.<name>` and written by
    its owners and admins in the admin or by the set_global action."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        JSON = "json", "JSON"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="globals")
    name = models.CharField(max_length=100, validators=[validate_global_name])
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    value = models.JSONField(default=str, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "global variable"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_global_name")
        ]

    def __str__(self):
        return self.name
