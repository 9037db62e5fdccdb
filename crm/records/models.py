"""The record store: modules (Leads, Deals, ... and data-storage tables) with typed
fields, their records as one JSON document each, the record timeline, funnels with
ordered stages and the moves between them, and macro buttons.

Record.data holds {field key: normalised value} (crm/records/values.py normalises), so
searches compare plainly. On PostgreSQL a GIN index (jsonb_path_ops) on `data` serves
equality and containment; fields marked sortable or unique get an expression index of
their own (crm/records/indexes.py), unique ones a partial unique index per module."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.crypto import get_random_string

from picky.models import Project
from picky.wording import counted

FIELD_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,49}$"
validate_field_key = RegexValidator(
    FIELD_KEY_PATTERN,
    "Use lower-case letters, digits and underscores, starting with a letter (e.g. deal_value).",
)
# Keys record_as_dict puts beside the field values: a field may not hide them.
RESERVED_KEYS = frozenset(
    {"id", "module", "name", "owner", "contact_id", "created_at", "updated_at"}
)


class Module(models.Model):
    """A kind of record of a project (Leads, Deals, Patients) or a data-storage table
    (rows keyed by a name). Its name is unique in the project and kind whatever its case."""

    class Kind(models.TextChoices):
        MODULE = "module", "Module"
        STORAGE = "storage", "Data storage table"

    class AgentAccess(models.TextChoices):
        NONE = "none", "No access"
        READ = "read", "Read"
        EDIT = "edit", "Read and edit"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="modules")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MODULE)
    prebuilt = models.BooleanField(
        default=False, editable=False, help_text="Created with the project; still editable."
    )
    agent_access = models.CharField(
        max_length=10,
        choices=AgentAccess.choices,
        default=AgentAccess.READ,
        help_text="What the project's agents may do with this module's records.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Raised by every change of the module's fields (crm/records/receivers.py): each
    # process keeps a module's fields for as long as it stays the same (criteria.py).
    fields_revision = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(
                models.F("project"),
                models.F("kind"),
                Lower("name"),
                name="unique_module_name",
                violation_error_message="This project already has a module with this name.",
            )
        ]

    def __str__(self):
        return self.name


class Field(models.Model):
    class Type(models.TextChoices):
        TEXT = "text", "Text"
        LONG_TEXT = "long_text", "Long text"
        NUMBER = "number", "Number"
        DECIMAL = "decimal", "Decimal"
        DATE = "date", "Date"
        DATETIME = "datetime", "Date and time"
        EMAIL = "email", "E-mail"
        PHONE = "phone", "Phone"
        URL = "url", "URL"
        CHOICE = "choice", "Choice"
        MULTI_CHOICE = "multi_choice", "Multiple choice"
        BOOLEAN = "boolean", "Yes / no"
        USER = "user", "User (project member)"
        RELATION = "relation", "Record of another module"
        CONTACT = "contact", "Contact"

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="fields")
    key = models.CharField(
        max_length=50,
        validators=[validate_field_key],
        help_text="The name in record data and templates, e.g. deal_value.",
    )
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXT)
    required = models.BooleanField(default=False)
    unique = models.BooleanField(
        default=False, help_text="No two records of the module may have the same value."
    )
    sortable = models.BooleanField(
        default=False, help_text="Indexed, so sorting and filtering on it stay fast."
    )
    choices = models.JSONField(
        default=list, blank=True, help_text="The choices of a choice or multiple-choice field."
    )
    related_module = models.ForeignKey(
        Module,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="related_fields",
        help_text="The module whose records a relation field points to.",
    )
    position = models.PositiveIntegerField(default=0)

    project_path = "module__project"

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["module", "key"], name="unique_field_key"),
        ]

    def __str__(self):
        return self.label or self.key

    def clean(self):
        errors = {}
        if self.key in RESERVED_KEYS:
            errors["key"] = f"“{self.key}” is a record attribute already; choose another key."
        choice_types = (self.Type.CHOICE, self.Type.MULTI_CHOICE)
        if self.type in choice_types:
            if not isinstance(self.choices, list) or not self.choices:
                errors["choices"] = "A choice field needs a list of choices."
            elif not all(isinstance(choice, str) and choice.strip() for choice in self.choices):
                errors["choices"] = "Each choice must be a non-empty text."
        elif self.choices:
            errors["choices"] = "Only choice and multiple-choice fields have choices."
        if self.type == self.Type.RELATION:
            if self.related_module_id is None:
                errors["related_module"] = "A relation field needs the module it points to."
            elif self.module_id and self.related_module.project_id != self.module.project_id:
                errors["related_module"] = "Choose a module of the same project."
        elif self.related_module_id is not None:
            errors["related_module"] = "Only relation fields point to another module."
        if self.unique and self.type in (self.Type.MULTI_CHOICE, self.Type.LONG_TEXT):
            errors["unique"] = f"A {self.get_type_display().lower()} field cannot be unique."
        errors.update(self._data_errors(errors))
        if errors:
            raise ValidationError(errors)

    def _data_errors(self, errors):
        """What the module's records say against this field: values in another type's
        form, or values a unique index cannot take."""
        # indexes.py reads Record, defined below in this module.
        from .indexes import duplicated_values, records_with_value

        if self.pk is None or errors:
            return {}
        before = Field.objects.filter(pk=self.pk).values_list("type", "key", "unique").first()
        if before is None:
            return {}
        type_, key, unique = before
        if (type_, key) != (self.type, self.key):
            holding = records_with_value(self.module_id, key)
            if holding:
                return {
                    "type": f"“{key}” has values in {counted(holding, 'record')}: its type "
                    "and key can change only while it is empty (add a new field instead)."
                }
        if self.unique and not unique:
            shared = duplicated_values(self)
            if shared:
                listed = ", ".join(str(value) for value in shared)
                return {
                    "unique": f"Several records share a value ({listed}): make them differ first."
                }
        return {}


class Record(models.Model):
    """One record of a module, or one row of a data-storage table (keyed by `name`)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="records")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="records")
    data = models.JSONField(default=dict, blank=True)
    name = models.CharField(
        max_length=200, blank=True, help_text="The row's name in a data-storage table."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_records",
    )
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="records",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["module", "name"],
                condition=~models.Q(name=""),
                name="unique_record_name",
                violation_error_message="This table already has a row with this name.",
            )
        ]
        indexes = [
            models.Index(fields=["module", "-id"], name="record_module_id"),
            models.Index(fields=["module", "updated_at"], name="record_module_updated"),
            models.Index(fields=["contact"], name="record_contact"),
        ]

    def __str__(self):
        return self.name or f"{self.module} #{self.pk}"


def import_file_path(record_import, filename):
    """Where an import's file is kept: under its project, by a random name (the user's
    file name is kept in `file_name`, never in a path)."""
    return f"record-imports/{record_import.project_id}/{get_random_string(24)}.csv"


class RecordImport(models.Model):
    """A CSV import of a module's records, run by a worker (crm/records/imports.py): the
    file kept until the import is deleted, the mapping chosen on the page, and the
    progress written with each batch, so an import whose worker died resumes after its
    last batch."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Stopped"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="record_imports")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to=import_file_path, max_length=200)
    file_name = models.CharField(
        max_length=255, help_text="The file's name on the uploader's disk."
    )
    header = models.JSONField(default=list, help_text="The file's first line, its columns' names.")
    mapping = models.JSONField(
        default=dict, help_text="{column index: field key, or “name” for a row's name}."
    )
    upsert_on = models.CharField(
        max_length=50, blank=True, help_text="The field (or “name”) matching existing records."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="record_imports",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    refused_count = models.PositiveIntegerField(default=0)
    refused = models.JSONField(
        default=list, blank=True, help_text="[line, reason] of the first refused rows."
    )
    error = models.TextField(blank=True, help_text="Why the import stopped before its end.")
    # Raised by each worker that takes the import: a worker whose turn has passed (its
    # lease ran out and another took over) writes nothing more.
    attempt = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["module", "-created_at"], name="record_import_module"),
            models.Index(
                fields=["status", "lease_until"],
                name="record_import_unfinished",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self):
        return f"{self.file_name} into {self.module}"

    @property
    def finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)


class RecordEntry(models.Model):
    """One line of a record's timeline: what changed (field, before, after in `data`),
    a note, a funnel move or a macro button submitted."""

    class Kind(models.TextChoices):
        CHANGE = "change", "Change"
        NOTE = "note", "Note"
        FUNNEL_MOVE = "funnel_move", "Funnel move"
        MACRO = "macro", "Macro button"

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="record_entries",
        help_text="Who did it; empty for an automation.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    project_path = "record__project"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "record entries"
        indexes = [models.Index(fields=["record", "created_at"], name="record_entry_time")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.text[:60]}"


class Funnel(models.Model):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="funnels")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    project_path = "module__project"

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                models.F("module"),
                Lower("name"),
                name="unique_funnel_name",
                violation_error_message="This module already has a funnel with this name.",
            )
        ]

    def __str__(self):
        return self.name


class FunnelStage(models.Model):
    funnel = models.ForeignKey(Funnel, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)

    project_path = "funnel__module__project"

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                models.F("funnel"),
                Lower("name"),
                name="unique_funnel_stage_name",
                violation_error_message="This funnel already has a stage with this name.",
            )
        ]

    def __str__(self):
        return self.name


class FunnelPlacement(models.Model):
    """Where a record sits in a funnel: one stage per funnel."""

    funnel = models.ForeignKey(Funnel, on_delete=models.CASCADE, related_name="placements")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="placements")
    stage = models.ForeignKey(FunnelStage, on_delete=models.CASCADE, related_name="placements")
    placed_at = models.DateTimeField(auto_now=True)

    project_path = "funnel__module__project"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["funnel", "record"], name="unique_funnel_placement")
        ]
        indexes = [models.Index(fields=["stage", "placed_at"], name="funnel_placement_stage")]

    def __str__(self):
        return f"{self.record} at {self.stage}"


class FunnelMove(models.Model):
    """A record entering (from_stage empty), moving in or leaving (to_stage empty) a
    funnel: the stage history as data."""

    funnel = models.ForeignKey(Funnel, on_delete=models.CASCADE, related_name="moves")
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="funnel_moves")
    from_stage = models.ForeignKey(
        FunnelStage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_stage = models.ForeignKey(
        FunnelStage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="funnel_moves",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    project_path = "funnel__module__project"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["funnel", "created_at"], name="funnel_move_time")]

    def __str__(self):
        return f"{self.record}: {self.from_stage or '—'} → {self.to_stage or '—'}"


class MacroButton(models.Model):
    """A button agents press on a record: it opens a form of `fields` (field keys of the
    module); submitting it updates the record and sends crm.signals.macro_submitted."""

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="macro_buttons")
    name = models.CharField(max_length=100)
    fields = models.JSONField(
        default=list, blank=True, help_text="Keys of the fields its form shows."
    )
    position = models.PositiveIntegerField(default=0)

    project_path = "module__project"

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                models.F("module"),
                Lower("name"),
                name="unique_macro_button_name",
                violation_error_message="This module already has a macro button with this name.",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if not isinstance(self.fields, list) or not all(isinstance(k, str) for k in self.fields):
            raise ValidationError({"fields": "List the keys of the fields the form shows."})
        if self.module_id:
            known = set(self.module.fields.values_list("key", flat=True))
            unknown = [key for key in self.fields if key not in known]
            if unknown:
                raise ValidationError(
                    {"fields": f"{self.module} has no field {', '.join(unknown)}."}
                )
