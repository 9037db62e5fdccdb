"""Connectors, their steps, the events they receive and the runs they make."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from picky.models import Project


def new_connector_token():
    # 32 random bytes = 256 bits, URL-safe.
    return secrets.token_urlsafe(32)


class Connector(models.Model):
    class Trigger(models.TextChoices):
        WEBHOOK = "webhook", "Its URL only"
        INBOUND_MESSAGE = "inbound_message", "A message arrives (and its URL)"
        RECORD_CREATED = "record_created", "A record is created in a module (and its URL)"
        RECORD_UPDATED = "record_updated", "A record is updated in a module (and its URL)"
        RECORD_DELETED = "record_deleted", "A record is deleted in a module (and its URL)"
        MACRO_BUTTON = "macro_button", "An agent submits a macro button (and its URL)"
        GROUP_JOINED = "group_joined", "A member joins a WhatsApp group (and its URL)"
        GROUP_LEFT = "group_left", "A member leaves a WhatsApp group (and its URL)"

    # The triggers a module's record changes start, by the change they name.
    RECORD_TRIGGERS = {
        "created": Trigger.RECORD_CREATED,
        "updated": Trigger.RECORD_UPDATED,
        "deleted": Trigger.RECORD_DELETED,
    }
    # The triggers a WhatsApp group's member changes start, by teambox's action name.
    GROUP_TRIGGERS = {"joined": Trigger.GROUP_JOINED, "left": Trigger.GROUP_LEFT}

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="connectors")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    trigger = models.CharField(
        max_length=20,
        choices=Trigger.choices,
        default=Trigger.WEBHOOK,
        help_text="What starts a run besides the connector's URL, which always works.",
    )
    # PROTECT: without its channel, the connector would start on every channel's messages.
    trigger_channel = models.ForeignKey(
        "teambox.Channel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="triggered_connectors",
        help_text="The channel whose inbound messages start a run; empty: any channel "
        "of the project.",
    )
    # SET_NULL: deleting a module (or a button) keeps the connectors it started, which then
    # start on their URL only until the admin gives them another.
    trigger_module = models.ForeignKey(
        "crm.Module",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="triggered_connectors",
        help_text="The module whose records start a run when they are created, updated or deleted.",
    )
    trigger_macro = models.ForeignKey(
        "crm.MacroButton",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="triggered_connectors",
        help_text="The macro button whose submissions start a run.",
    )
    trigger_group = models.ForeignKey(
        "teambox.WhatsAppGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="triggered_connectors",
        help_text="The WhatsApp group (with its child groups) whose members joining or "
        "leaving start a run.",
    )
    token = models.CharField(
        max_length=64, unique=True, default=new_connector_token, editable=False
    )
    sample_payload = models.JSONField(null=True, blank=True)
    mapped_paths = models.JSONField(default=list, blank=True)
    structure_changed = models.BooleanField(
        default=False, help_text="A later event's JSON structure differs from the sample."
    )
    sample_signature = models.CharField(
        max_length=64, blank=True, editable=False, help_text="Digest of the sample's paths."
    )
    field_mapping = models.JSONField(default=dict, blank=True)
    # The parsing template of inbound mail: [{"name", "where", "pattern", "all"}]
    # (connectors/mail_fields.py), applied by inbound_mail as a mail becomes an event.
    mail_fields = models.JSONField(default=list, blank=True)
    revision = models.PositiveIntegerField(
        default=0, editable=False, help_text="Goes up whenever a step or action changes."
    )
    # The version runs start on; None until the connector is first published (one made in
    # code, never published, runs its steps as they stand).
    live_version = models.ForeignKey(
        "ConnectorVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_connector_name")
        ]

    def __str__(self):
        return self.name

    @property
    def path(self):
        return f"/hooks/{self.token}"

    @property
    def url(self):
        return settings.PUBLIC_BASE_URL.rstrip("/") + self.path


class Event(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        REJECTED = "rejected", "Rejected"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    # No index of its own: event_connector_recent leads with it (one index fewer to
    # write on every webhook).
    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    payload = models.JSONField(null=True, blank=True)
    raw_body = models.TextField(
        blank=True, help_text="The body as received, kept when it could not be parsed."
    )
    method = models.CharField(max_length=10)
    headers = models.JSONField(default=dict, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    hop_count = models.PositiveSmallIntegerField(default=0)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(
        max_length=255,
        blank=True,
        help_text="The sender's idempotency header (PICKY_IDEMPOTENCY_HEADERS): a repeated key "
        "is the same delivery and creates no second event.",
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            # Partial: events without a key cost nothing; a repeated key fails the INSERT.
            models.UniqueConstraint(
                fields=["connector", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="unique_event_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["connector", "-received_at"], name="event_connector_recent"),
            models.Index(
                fields=["enqueued_at"],
                name="event_queued_sweep",
                condition=Q(status="queued"),
            ),
        ]

    def __str__(self):
        # The outcome of its runs is on the page; the event's own status (processed: handed to
        # its runs) would read as a result.
        return f"Event {self.pk}"


class ConnectorVersion(models.Model):
    """A published state of a connector's steps and actions: what its runs run.

    `definition` is the connector's "picky.connector/v1" document as published (what the
    history and the draft's changes show); the steps and actions themselves are frozen
    copies (Step.version), which runs, their logs and their delays point at.
    """

    project_path = "connector__project"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "number"], name="unique_version_number")
        ]

    def __str__(self):
        return f"Version {self.number}"


class DraftSteps(models.Manager):
    """The steps a connector's builder edits: its draft. The published versions' frozen
    copies are read through `Step.every` (the engine, a run's logs and delays)."""

    def get_queryset(self):
        return super().get_queryset().filter(version__isnull=True)


class Step(models.Model):
    project_path = "connector__project"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="steps")
    # None: the draft's step; else a frozen copy belonging to that published version.
    version = models.ForeignKey(
        ConnectorVersion,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="steps",
        editable=False,
    )
    # A frozen copy's draft step: discarding the draft rewrites that step, keeping its id.
    origin = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    position = models.PositiveIntegerField(default=0, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    filters = models.JSONField(
        default=list, blank=True, help_text="Groups of conditions: any group, all conditions."
    )
    iterator = models.JSONField(null=True, blank=True)
    delay = models.JSONField(null=True, blank=True)

    every = models.Manager()
    objects = DraftSteps()

    class Meta:
        ordering = ["position", "id"]
        default_manager_name = "objects"
        base_manager_name = "every"

    def __str__(self):
        return self.name or f"Step {self.position + 1}"


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting on a delay"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.STOPPED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    # No index of its own: run_connector_recent leads with it.
    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="runs")
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    # A resumed run goes on where the runs it continues stopped: the first of them is named
    # here (the same for every resumption of a chain), and its effect keys are this run's.
    # The connector's version the run started on, which it resumes on after a delay; None:
    # the connector had never been published, and its steps ran as they stood.
    version = models.ForeignKey(
        ConnectorVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        db_index=False,
    )
    resume_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resumptions",
        help_text="The run this one resumes (the first of a chain of resumptions).",
    )
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    context = models.JSONField(default=dict, blank=True)
    next_step = models.PositiveIntegerField(
        default=0, help_text="Index of the step the run resumes at."
    )
    delay_done_step = models.PositiveIntegerField(
        null=True, blank=True, help_text="Index of the step whose delay has elapsed."
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "connector"],
                condition=Q(replay_of__isnull=True),
                name="one_run_per_event",
            )
        ]
        indexes = [
            models.Index(
                fields=["lease_until"],
                name="run_stuck_sweep",
                condition=Q(status__in=["queued", "running"]),
            ),
            models.Index(fields=["connector", "-created_at"], name="run_connector_recent"),
        ]

    def __str__(self):
        return f"Run {self.pk} ({self.status})"


class RunLog(models.Model):
    """One line of a run's timeline: a step or an action (per iteration)."""

    project_path = "run__project"

    class Kind(models.TextChoices):
        STEP = "step", "Step"
        ACTION = "action", "Action"

    class Status(models.TextChoices):
        RAN = "ran", "Ran"
        SKIPPED = "skipped", "Skipped by filter"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped"
        WAITING = "waiting", "Waiting on a delay"
        # An outside effect claimed before it starts: becomes RAN or FAILED once its outcome
        # is known (connectors/engine/claims.py).
        SENDING = "sending", "Sending, outcome not known yet"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="logs")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    # No index of its own: runlog_step_stats leads with it (a run writes several lines).
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    action = models.ForeignKey("actions.Action", null=True, blank=True, on_delete=models.SET_NULL)
    step_position = models.PositiveIntegerField(default=0)
    action_position = models.PositiveIntegerField(null=True, blank=True)
    iteration = models.IntegerField(null=True, blank=True)
    action_type = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    inputs = models.JSONField(null=True, blank=True)
    outputs = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["step", "created_at"], name="runlog_step_stats")]

    def __str__(self):
        return f"{self.kind} {self.status}"


class Counter(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="counters")
    name = models.CharField(max_length=200)
    value = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_counter_name")
        ]

    def __str__(self):
        return f"{self.name} = {self.value}"


class ScheduledStep(models.Model):
    """A run parked on a step's delay until `due_at`."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FIRED = "fired", "Fired"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schedules")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="schedules")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="schedules")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="schedules")
    due_at = models.DateTimeField()
    identifier = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(
                fields=["due_at"], name="schedule_due_sweep", condition=Q(status="pending")
            ),
            models.Index(
                fields=["connector", "identifier"],
                name="schedule_cancel",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.step} due {self.due_at:%Y-%m-%d %H:%M} ({self.status})"
