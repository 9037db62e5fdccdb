"""Chatbot flows: a small graph of steps a business user builds in the admin, and the
contacts going through one (at most one flow per contact).

Steps name each other by name ("then go to"), so that a step added on the same admin
page can be chosen before it is saved; the names are checked on every save
(journeys/flows/checks.py) and again when a flow starts.
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from crm.models import Contact
from picky.models import Project
from teambox.models import Channel

from ..matching import WORD_MATCHES

NAME_LENGTH = 100


class Flow(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="flows")
    name = models.CharField(max_length=NAME_LENGTH)
    timeout_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        verbose_name="ends after (minutes of silence)",
        help_text="A contact who does not answer for this many minutes leaves the flow.",
    )
    timeout_message = models.TextField(
        blank=True,
        help_text="Sent to the contact when the flow ends for their silence; empty: nothing "
        "is sent. Templates such as {{ contact.name }} are allowed.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_flow_name")]
        indexes = [models.Index(models.F("project"), Lower("name"), name="flow_lower_name")]

    def __str__(self):
        return self.name


class FlowStep(models.Model):
    class Kind(models.TextChoices):
        MESSAGE = "message", "Send a message"
        QUESTION = "question", "Ask a question"
        BRANCH = "branch", "Branch on the answer"
        SET_ATTRIBUTE = "set_attribute", "Set a contact attribute"
        ADD_TAG = "add_tag", "Add tags"
        ASSIGN = "assign", "Assign the chat"
        GO_TO = "go_to", "Go to another step"
        END = "end", "End the flow"

    class AnswerType(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        EMAIL = "email", "E-mail address"
        DATE = "date", "Date"
        CHOICE = "choice", "One of the choices"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0, db_index=True)
    name = models.CharField(max_length=NAME_LENGTH)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MESSAGE)
    text = models.TextField(
        blank=True,
        verbose_name="message",
        help_text="What the contact reads (a message, or a question). Templates such as "
        "{{ contact.name }} and {{ answer }} (their last answer) are allowed.",
    )
    attribute = models.CharField(
        max_length=100,
        blank=True,
        help_text="The contact attribute the answer is saved to (a question), or that is set "
        "(set an attribute).",
    )
    answer_type = models.CharField(
        max_length=10,
        choices=AnswerType.choices,
        default=AnswerType.TEXT,
        help_text="A question: the answer must be of this type.",
    )
    choices = models.TextField(
        blank=True,
        help_text="A question of choices: one per line. They are listed under the question, "
        "numbered; the contact answers with one or its number.",
    )
    retry_text = models.TextField(
        blank=True,
        verbose_name="retry message",
        help_text="A question: sent on an answer of the wrong type; empty: a message that "
        "says what is expected.",
    )
    value = models.TextField(
        blank=True,
        help_text="Set an attribute: the value, e.g. {{ answer }} or “Lead”.",
    )
    tags = models.CharField(
        max_length=500, blank=True, help_text="Add tags: tag names, separated by commas."
    )
    agents = models.CharField(
        max_length=500,
        blank=True,
        help_text="Assign the chat: agents by username or e-mail, separated by commas. "
        "Empty with no department: by the channel's routing rules.",
    )
    departments = models.CharField(
        max_length=500,
        blank=True,
        help_text="Assign the chat: every enabled agent of these departments.",
    )
    go_to = models.CharField(
        max_length=NAME_LENGTH,
        blank=True,
        verbose_name="then go to",
        help_text="The step that comes next; empty: the next one in order (the flow ends "
        "after the last).",
    )

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "name"], name="unique_flow_step_name")
        ]

    def __str__(self):
        return self.name


class BranchRow(models.Model):
    """One row of a branch step: when the answer matches, go to a step."""

    class Match(models.TextChoices):
        EXACT = WORD_MATCHES[0]
        CONTAINS = WORD_MATCHES[1]
        STARTS_WITH = WORD_MATCHES[2]
        GREATER_THAN = "greater_than", "is a number greater than"
        LESS_THAN = "less_than", "is a number less than"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="branch_rows")
    position = models.PositiveIntegerField(default=0, db_index=True)
    step = models.CharField(
        max_length=NAME_LENGTH, verbose_name="at branch step", help_text="A branch step's name."
    )
    match = models.CharField(max_length=20, choices=Match.choices, default=Match.CONTAINS)
    value = models.CharField(
        max_length=500,
        help_text="Keywords or phrases separated by commas (any of them), or a number.",
    )
    go_to = models.CharField(max_length=NAME_LENGTH, verbose_name="go to")

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = "branch row"

    def __str__(self):
        return f"{self.step}: {self.get_match_display()} {self.value} → {self.go_to}"


class FlowSession(models.Model):
    """A contact going through a flow: the step they are at, waiting for their answer,
    and when their silence ends it. One per contact (the unique constraint): starting
    another flow ends this one first, or is refused."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="flow_sessions")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="sessions")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="flow_sessions")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="flow_sessions")
    step = models.CharField(max_length=NAME_LENGTH, help_text="The step waiting for an answer.")
    started_at = models.DateTimeField()
    last_activity_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "contact in a flow"
        verbose_name_plural = "contacts in flows"
        constraints = [models.UniqueConstraint(fields=["contact"], name="one_flow_per_contact")]

    def __str__(self):
        return f"{self.contact} in {self.flow} at {self.step}"
