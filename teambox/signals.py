"""Signals teambox sends so automation can react without teambox importing it.

`messages_received(sender=Message, messages, channel)` is sent once per stored batch of
new inbound messages (a webhook's, or an inbound delivery's), after the transaction that
stored them commits: `messages` is the list of new Message rows of `channel`, in the
order received, each with its `contact` loaded (None for a sender that is not a number,
an alphanumeric sender such as VM-AMAZON). One signal per batch, not per message, so
that a receiver can look up what it needs once for thousands of messages.

`message_statuses_changed(sender=Message, messages)` is sent after the commit that moved
outbound messages' statuses (a send's result, a provider's status webhook): `messages` is
the list of those Message rows as saved, one signal per batch.

`group_members_changed(sender=WhatsAppGroup, group, numbers, action)` is sent after the
commit that stored a WhatsApp Web gateway's participants update of a synced group:
`group` is the WhatsAppGroup, `numbers` the list of numbers (digits with country code)
and `action` "joined" or "left".
"""

from django.dispatch import Signal

messages_received = Signal()
message_statuses_changed = Signal()
group_members_changed = Signal()
