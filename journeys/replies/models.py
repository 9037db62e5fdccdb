"""Smart replies: keyword and phrase rules of a project that answer a contact's message
on the channel it came in on, and may tag or categorise the contact."""

from django.db import models

from picky.models import Project

from ..matching import WORD_MATCHES


class SmartReply(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="smart_replies")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(
        default=0, db_index=True, help_text="Rules are tried in this order; the first wins."
    )
    enabled = models.BooleanField(default=True)
    match = models.CharField(
        max_length=20,
        choices=WORD_MATCHES,
        default=WORD_MATCHES[1][0],
        verbose_name="when the message",
    )
    phrases = models.TextField(
        verbose_name="keywords or phrases",
        help_text="One variation per line (or separated by commas); any of them matches, "
        "whatever the case.",
    )
    reply = models.TextField(
        blank=True,
        help_text="Sent back on the channel the message came in on. Templates such as "
        "{{ contact.name }} are allowed.",
    )
    tags = models.CharField(
        max_length=500, blank=True, help_text="Tags added to the contact, separated by commas."
    )
    categories = models.CharField(
        max_length=500,
        blank=True,
        help_text="Categories added to the contact, separated by commas.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name_plural = "smart replies"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_smart_reply_name")
        ]
        # The inbound path asks whether a project has any enabled rule on every batch.
        indexes = [models.Index(fields=["project", "enabled"], name="smart_reply_enabled")]

    def __str__(self):
        return self.name
