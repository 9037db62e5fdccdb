"""webhooks listens to teambox: its signals come after the commit that stored the change."""

from django.dispatch import receiver
from django.utils import timezone

from teambox.models import Message, WhatsAppGroup
from teambox.signals import group_members_changed, message_statuses_changed, messages_received

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


@receiver(group_members_changed, sender=WhatsAppGroup, dispatch_uid="webhooks.group_members")
def send_group_member_event(sender, group, numbers, action, **kwargs):
    events.group_member_event(group, numbers, action, timezone.now())
