"""webhooks listens to teambox: its signals come after the commit that stored the change."""

from django.dispatch import receiver

from teambox.models import Message
from teambox.signals import message_statuses_changed, messages_received

from . import events, inbound


@receiver(message_statuses_changed, sender=Message, dispatch_uid="webhooks.delivery_reports")
def send_delivery_reports(sender, messages, **kwargs):
    events.delivery_reports(messages)


@receiver(messages_received, sender=Message, dispatch_uid="webhooks.new_subscribers")
def send_new_subscribers(sender, messages, channel, **kwargs):
    events.new_subscribers(messages, channel)


@receiver(messages_received, sender=Message, dispatch_uid="webhooks.inbound")
def forward_inbound_messages(sender, messages, channel, **kwargs):
    inbound.forward_messages(messages, channel)
