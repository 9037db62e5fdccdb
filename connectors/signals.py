"""Signal receivers of the connectors app."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from .models import Step


@receiver(pre_delete, sender=Step)
def stop_runs_waiting_on_a_deleted_step(sender, instance, **kwargs):
    """A run parked on a step's delay must not wait forever once the step is gone."""
    from .delays import cancel_schedules

    cancel_schedules(
        instance.schedules.all(),
        f"The step “{instance}” was deleted while the run waited on its delay.",
    )
