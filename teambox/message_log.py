"""What a stored message leaves on its contact's timeline and conversation.

Outbound messages are recorded here, below conversations.py: services.py and
broadcasts.py store them and call this, while conversations.py routes chats through
assignment/, which sends through services.py; recording them there would close a circle.
"""

from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce, Greatest

from crm import services as crm
from crm.models import TimelineEntry

from .models import Conversation


def message_text(message):
    """What the timeline shows of a message: its text, else its template or media."""
    if message.body:
        return message.body
    if message.template:
        return f"Template {message.template}"
    return message.media_url


def message_data(message):
    return {"message": message.pk, "channel": message.channel.name}


def later_of_last_message(at):
    """`last_message_at` moved forward to `at`, never back (messages may commit out of
    order)."""
    at = Value(at, output_field=DateTimeField())
    return Greatest(Coalesce("last_message_at", at), at)


def record_outbound(message):
    """A message to a contact was stored: see record_outbound_batch."""
    record_outbound_batch([message])


def record_outbound_batch(messages, automated=False):
    """Messages to contacts were stored: a "message sent" line on each contact's timeline,
    and their conversations' last message moves forward. A reply (anything but a
    broadcast or another `automated` message: a sequence's) answers the customer: the
    conversation no longer waits. Messages without a contact are left out. A few
    statements per batch, whatever its size."""
    messages = [message for message in messages if message.contact_id]
    if not messages:
        return
    crm.add_timeline_entries(
        (m.contact, TimelineEntry.Kind.MESSAGE_OUT, message_text(m), message_data(m))
        for m in messages
    )
    groups = {}
    for message in messages:
        answers = message.broadcast_id is None and not automated
        key = (message.channel_id, answers)
        contacts, at = groups.get(key, (set(), message.created_at))
        contacts.add(message.contact_id)
        groups[key] = (contacts, max(at, message.created_at))
    for (channel_id, answers), (contact_ids, at) in groups.items():
        fields = {"last_message_at": later_of_last_message(at)}
        if answers:
            fields["waiting_since"] = None
        Conversation.objects.filter(channel_id=channel_id, contact_id__in=contact_ids).update(
            **fields
        )
