"""Signals teambox sends so automation can react without teambox importing it.

`message_received(sender=Message, message, contact, channel)` is sent once per
inbound message, after the transaction that stored it commits.
"""

from django.dispatch import Signal

message_received = Signal()
