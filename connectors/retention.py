"""Pruning of events and runs older than their project's retention."""

from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from picky.models import Project

from .models import Event, Run

PRUNE_BATCH = 1000


def prune_expired(now=None, batch=PRUNE_BATCH):
    """Delete old events (and their runs) in batches; returns how many events went.

    An event any of whose runs is still waiting on a delay (or not finished)
    is kept, payload and all, so the run can resume and be read.
    """
    now = now or timezone.now()
    deleted = 0
    for project in Project.objects.only("pk", "retention_days"):
        cutoff = now - timedelta(days=project.retention_days)
        unfinished = Run.objects.filter(event=OuterRef("pk")).exclude(status__in=Run.FINISHED)
        expired = (
            Event.objects.filter(project=project, received_at__lt=cutoff)
            .exclude(Exists(unfinished))
            .values_list("pk", flat=True)
        )
        while True:
            ids = list(expired[:batch])
            if not ids:
                break
            Event.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
    return deleted
