from django.db import models


class DraftActions(models.Manager):
    """The actions a connector's builder edits: its draft's. The published versions' frozen
    copies are read through `Action.every` (the engine)."""

    def get_queryset(self):
        return super().get_queryset().filter(step__version__isnull=True)


class Action(models.Model):
    """One action of a step; `type` is a key of the action-type registry."""

    project_path = "step__connector__project"

    step = models.ForeignKey("connectors.Step", on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveIntegerField(default=0, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    # No choices=: the registry is the only list of types (DESIGN.md).
    type = models.CharField(max_length=64)
    config = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    # A published version's copy of a draft action: its HTTP logs and response mapping are
    # the draft action's (`logged_action_id`), and discarding the draft rewrites that one.
    origin = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    every = models.Manager()
    objects = DraftActions()

    class Meta:
        ordering = ["position", "id"]
        default_manager_name = "objects"
        base_manager_name = "every"

    def __str__(self):
        return self.name or self.type

    @property
    def logged_action_id(self):
        """The action whose HTTP logs and response mapping this one writes: the draft's."""
        return self.origin_id or self.pk


class HttpRequestLog(models.Model):
    """One request an HTTP-flavoured action sent (the last few per action are kept).

    Secrets in headers and query strings are masked before the row is written.
    """

    project_path = "action__step__connector__project"

    class Trigger(models.TextChoices):
        RUN = "run", "Run"
        TEST = "test", "Test button"

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="http_logs")
    run = models.ForeignKey(
        "connectors.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(max_length=4, choices=Trigger.choices, default=Trigger.RUN)
    attempt = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=10)
    url = models.TextField()
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "HTTP request log"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["action", "-created_at"], name="httplog_action_recent")]

    def __str__(self):
        return f"{self.method} {self.url} → {self.status or self.error}"

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300 and not self.error


class HttpResponseMapping(models.Model):
    """The response structure an HTTP Request action mapped, and whether it changed since."""

    project_path = "action__step__connector__project"

    action = models.OneToOneField(Action, on_delete=models.CASCADE, related_name="response_mapping")
    sample = models.JSONField(null=True, blank=True, help_text="The mapped JSON response.")
    mapped_at = models.DateTimeField(null=True, blank=True)
    structure_changed = models.BooleanField(default=False)
    changed_sample = models.JSONField(
        null=True, blank=True, help_text="The latest response whose structure differs."
    )
    latest_was_json = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Response mapping of {self.action}"
