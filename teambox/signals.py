"""Signals teambox sends so automation can react without teambox importing it.

`message_received(sender=Message, message, contact, channel)` is sent once per
inbound message, after the transaction that stored it commits. `contact` is None
for a sender that is not a number (an alphanumeric sender such as VM-AMAZON).
"""

from django.dispatch import Signal

message_received = Signal()
