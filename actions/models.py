from django.db import models


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

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name or self.type
