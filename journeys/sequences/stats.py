"""Per-step figures of a sequence for its admin page: where each step's deliveries stand,
and how far the messages sent went (teambox's statuses: delivered, read, failed)."""

from django.db.models import Count

from teambox.models import Message

from .models import Delivery, Subscription

Status = Delivery.Status
COLUMNS = ["pending", "sent", "delivered", "read", "failed", "skipped"]


def step_stats(sequence):
    """[(step, {column: count})] in the steps' order: one query for the deliveries."""
    rows = (
        Delivery.objects.filter(message__sequence=sequence)
        .values("message_id", "status", "sent_message__status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    figures = {}
    for row in rows:
        counts = figures.setdefault(row["message_id"], dict.fromkeys(COLUMNS, 0))
        count, message_status = row["count"], row["sent_message__status"]
        if row["status"] == Status.SENT:
            counts["sent"] += count
            if message_status in (Message.Status.DELIVERED, Message.Status.READ):
                counts["delivered"] += count
            if message_status == Message.Status.READ:
                counts["read"] += count
            if message_status == Message.Status.FAILED:
                counts["failed"] += count
        else:
            counts[row["status"]] += count
    return [
        (step, figures.get(step.pk, dict.fromkeys(COLUMNS, 0)))
        for step in sequence.messages.order_by("position", "id")
    ]


def subscriber_counts(sequence):
    """{status label: count} of the sequence's subscriptions, every status shown."""
    counts = dict(
        sequence.subscriptions.values_list("status").annotate(count=Count("pk")).order_by()
    )
    return {label: counts.get(value, 0) for value, label in Subscription.Status.choices}
