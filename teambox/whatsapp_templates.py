"""The approved WhatsApp templates of a project's official channels, read from Meta's API
through the channel's adapter and kept a few minutes, with their parameters: the action
forms offer them by name and show one value box per parameter."""

import hashlib
import json

from django.core.cache import cache

from .channels import ChannelError, adapter_for
from .models import Channel

# How long a channel's templates are kept before Meta is asked again (a template approved
# meanwhile shows after at most this long).
KEPT_SECONDS = 10 * 60


def channel_templates(channel):
    """The channel's approved templates ([{"name", "language", "category", "text",
    "parameters"}]), from the cache when read in the last KEPT_SECONDS. Raises
    ChannelError when the provider cannot list them."""
    key = cache_key(channel)
    templates = cache.get(key)
    if templates is None:
        templates = adapter_for(channel).list_templates()
        cache.set(key, templates, KEPT_SECONDS)
    return templates


def cache_key(channel):
    """Per channel and settings: new credentials (another business account) read anew."""
    settings = json.dumps(channel.credentials or {}, sort_keys=True).encode()
    return f"whatsapp-templates:{channel.pk}:{hashlib.sha256(settings).hexdigest()[:16]}"


def project_templates(project):
    """The approved templates of the project's enabled official channels that can list
    them (a channel Meta does not answer for is left out: the box stays free text)."""
    templates = []
    for channel in Channel.objects.filter(
        project=project, kind=Channel.Kind.WHATSAPP_CLOUD, enabled=True
    ).order_by("name"):
        try:
            templates.extend(channel_templates(channel))
        except ChannelError:
            continue
    return templates


def find_template(project, name):
    """The project's approved template called `name` (the first channel's), or None."""
    return next((t for t in project_templates(project) if t["name"] == name), None)
