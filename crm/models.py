from django.db import models

from picky.models import Project


class Contact(models.Model):
    """A subscriber of a project, keyed by WhatsApp number (digits with country code)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="contacts")
    number = models.CharField(max_length=20, blank=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "number"],
                condition=~models.Q(number=""),
                name="unique_contact_number",
            )
        ]

    def __str__(self):
        return self.name or self.number or self.email or f"Contact {self.pk}"
