"""What a message carries beside its text (an image, a document, a voice note, an order,
a button reply) as the conversation page shows it, and fetching media a provider keeps
behind the channel's token so Picky can serve it to the agent itself."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.validators import URLValidator
from django.utils.text import get_valid_filename

from .channels import ADAPTERS, ChannelError, adapter_for
from .channels.base import InboundMedia
from .message_log import message_text
from .models import Message

WEB_ADDRESS = URLValidator(schemes=["http", "https"])
ENDINGS = {
    "image": (".png", ".jpg", ".jpeg", ".gif", ".webp"),
    "video": (".mp4", ".3gp", ".webm", ".mov"),
    "audio": (".mp3", ".ogg", ".opus", ".aac", ".amr", ".m4a", ".wav"),
}
# Content types a browser may show inline from Picky's own origin: raster images, sound
# and video. Anything else (HTML, SVG, PDF, ...) is sent as a download.
INLINE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "audio/", "video/")


class MediaUnavailable(Exception):
    """The message's media cannot be fetched; the message says why, for the agent."""


def web_address(value):
    """`value` when it is an http(s) address; else ""."""
    text = str(value or "").strip()
    try:
        WEB_ADDRESS(text)
    except ValidationError:
        return ""
    return text


def linked_media(url, caption=""):
    """InboundMedia of a web address, its kind guessed from the file name's ending."""
    path = urlsplit(url).path
    ending = path.lower()
    kind = next((k for k, endings in ENDINGS.items() if ending.endswith(endings)), "document")
    return InboundMedia(kind=kind, url=url, filename=path.rsplit("/", 1)[-1], caption=caption)


def media_of(message):
    """What `message` carries beside its text (InboundMedia), else None: what the
    provider's payload names for a received message (its channel loaded), else its media
    URL when that is a web address."""
    if message.direction == Message.Direction.IN:
        adapter = ADAPTERS.get(message.channel.kind)
        found = adapter.inbound_media(message.payload) if adapter else None
        if found is not None:
            return found
    url = web_address(message.media_url)
    if not url:
        return None
    text = message_text(message)
    return linked_media(url, "" if text == message.media_url else text)


def safe_filename(name, fallback):
    """A file name from a payload fit for a header: letters, digits, -, _ and dots."""
    try:
        return get_valid_filename(name)[:200]
    except SuspiciousFileOperation:
        return fallback


def shows_inline(content_type):
    return content_type.startswith(INLINE_TYPES)


def fetch_message_media(message):
    """The FetchedMedia of a received message's provider media id (through its channel's
    adapter, at most PICKY_TEAMBOX_MEDIA_MAX_BYTES), with the payload's file name.
    Raises MediaUnavailable saying why not."""
    media = media_of(message) if message.direction == Message.Direction.IN else None
    if media is None or not media.media_id:
        raise MediaUnavailable("This message has no media kept by its provider.")
    try:
        fetched = adapter_for(message.channel).fetch_media(
            media.media_id, settings.PICKY_TEAMBOX_MEDIA_MAX_BYTES
        )
    except ChannelError as exc:
        raise MediaUnavailable(exc.message) from exc
    fetched.content_type = fetched.content_type or media.mime_type or "application/octet-stream"
    fetched.filename = safe_filename(media.filename, f"{media.kind}-{message.pk}")
    return fetched
