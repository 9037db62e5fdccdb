"""Finding sequences, subscribing contacts to them and taking them out.

A subscription plans one Delivery row per step (from the step it starts at); the sweep
(sweep.py) sends each when due. Subscribing a contact who is or was in the sequence leaves
them as they are, unless asked to restart: then their plan is made again from now.
"""

from django.db import transaction
from django.utils import timezone

from picky.names import name_is
from picky.wording import counted, listed

from .models import Delivery, Sequence, Subscription
from .timing import due_time

LEFT = "The contact left the sequence."


class SequenceError(ValueError):
    """A subscription that cannot be made as asked; the message says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def find_sequence(project, name):
    """The project's sequence called `name`, whatever its case, or None."""
    return Sequence.objects.filter(name_is(str(name or "").strip()), project=project).first()


def unknown_sequence_message(project, name):
    """What a user reads when `name` is none of the project's sequences: their names."""
    names = Sequence.objects.filter(project=project).order_by("name").values_list("name", flat=True)
    return f"No sequence named {name!r} in this project. " + listed(
        names, "sequences", "add one under Journeys → Sequences"
    )


def subscribe(sequence, contact, *, start_at=1, restart=False):
    """Subscribe `contact` to `sequence` from its step `start_at` (1 is the first); returns
    (the subscription, whether it was planned now). A contact already subscribed (or who
    finished or left) is left as they are, unless `restart`: then their deliveries are
    planned again from now, the pending ones replaced and the sent ones sent again when due.

    Raises SequenceError for a sequence that is turned off or has no message, a step number
    it does not have, or a contact of another project.
    """
    if contact.project_id != sequence.project_id:
        raise SequenceError(f"{contact} is not a contact of the sequence's project.")
    if not sequence.enabled:
        raise SequenceError(f"The sequence {sequence.name!r} is turned off.")
    steps = list(sequence.messages.order_by("position", "id"))
    if not steps:
        raise SequenceError(f"The sequence {sequence.name!r} has no message yet.")
    if not 1 <= start_at <= len(steps):
        raise SequenceError(
            f"The sequence {sequence.name!r} has {counted(len(steps), 'step')}: "
            f"start at a step from 1 to {len(steps)}, not {start_at}."
        )
    now = timezone.now()
    with transaction.atomic():
        subscription, created = Subscription.objects.get_or_create(
            sequence=sequence, contact=contact, defaults={"started_at": now}
        )
        if not created:
            if not restart:
                return subscription, False
            # Locked: a concurrent restart, unsubscribe or sweep waits for this one.
            subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
            subscription.deliveries.all().delete()
            subscription.started_at = now
            subscription.status = Subscription.Status.ACTIVE
            subscription.ended_at = None
            subscription.reason = ""
            subscription.save()
        tzinfo = sequence.project.tzinfo
        Delivery.objects.bulk_create(
            Delivery(subscription=subscription, message=step, due_at=due_time(step, now, tzinfo))
            for step in steps[start_at - 1 :]
        )
    return subscription, True


def unsubscribe(sequence, contact):
    """Take `contact` out of `sequence`: nothing more of it is sent. Returns whether they
    were in it."""
    return (
        end_subscriptions(
            Subscription.objects.filter(sequence=sequence, contact=contact),
            Subscription.Status.UNSUBSCRIBED,
            LEFT,
        )
        > 0
    )


def unsubscribe_everywhere(contact, reason=LEFT):
    """Take `contact` out of every sequence they are in (a chatbot flow that takes over);
    returns how many."""
    return end_subscriptions(
        Subscription.objects.filter(contact=contact), Subscription.Status.UNSUBSCRIBED, reason
    )


def end_subscriptions(subscriptions, status, reason):
    """End the active ones of `subscriptions` with `status`, their pending deliveries
    skipped with `reason`; returns how many ended."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            subscriptions.filter(status=Subscription.Status.ACTIVE)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        Delivery.objects.filter(subscription_id__in=ids, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.SKIPPED, reason=reason
        )
        Subscription.objects.filter(pk__in=ids).update(status=status, ended_at=now, reason=reason)
    return len(ids)
