"""Channel adapters, one module per kind, behind `teambox.channels.base.ChannelAdapter`."""

from .base import ChannelAdapter, ChannelError, Incoming, Sent, StatusChange, WebhookError
from .email import EmailAdapter
from .push_api import PushApiAdapter
from .sandbox import SandboxAdapter
from .whatsapp_cloud import WhatsAppCloudAdapter
from .whatsapp_web import WhatsAppWebAdapter

ADAPTERS = {
    adapter.kind: adapter
    for adapter in (
        WhatsAppCloudAdapter,
        PushApiAdapter,
        SandboxAdapter,
        EmailAdapter,
        WhatsAppWebAdapter,
    )
}


def adapter_for(channel):
    """The adapter of `channel`'s kind, wrapping it."""
    return ADAPTERS[channel.kind](channel)


__all__ = [
    "ADAPTERS",
    "ChannelAdapter",
    "ChannelError",
    "Incoming",
    "Sent",
    "StatusChange",
    "WebhookError",
    "adapter_for",
]
