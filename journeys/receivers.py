"""Signal receivers of the journeys app (connected in JourneysConfig.ready)."""

from django.dispatch import receiver

from teambox.signals import messages_received

from .inbound import answer_messages
from .sequences.models import Subscription
from .sequences.services import end_subscriptions


@receiver(messages_received, dispatch_uid="journeys.sequences.stop_on_keyword")
def stop_sequences_on_keyword(sender, messages, channel, **kwargs):
    """A contact who replies a stop keyword of a sequence on its channel leaves it: one
    query for the batch, whatever its size."""
    replies = {}
    for message in messages:
        if message.contact_id and message.body.strip():
            replies.setdefault(message.contact_id, []).append(message.body.strip())
    if not replies:
        return
    subscriptions = Subscription.objects.filter(
        contact_id__in=replies, sequence__channel=channel, status=Subscription.Status.ACTIVE
    ).select_related("sequence")
    for subscription in subscriptions:
        keywords = subscription.sequence.stop_keyword_set()
        reply = next((r for r in replies[subscription.contact_id] if r.lower() in keywords), "")
        if reply:
            end_subscriptions(
                Subscription.objects.filter(pk=subscription.pk),
                Subscription.Status.STOPPED,
                f"The contact replied {reply!r}.",
            )


@receiver(messages_received, dispatch_uid="journeys.answer_messages")
def answer_messages_of_contacts(sender, messages, channel, **kwargs):
    """Senders in a chatbot flow move it on; the others' messages may get a smart reply."""
    answer_messages(messages, channel)
