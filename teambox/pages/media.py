"""A received message's media that its provider keeps behind the channel's token (a
WhatsApp Cloud API media id): Picky fetches it and serves it to an agent who may see the
message's contact, never to anyone else and never through a shared cache."""

from django.http import Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from ..media import MediaUnavailable, fetch_message_media, shows_inline
from ..models import Message
from .access import project_page, visible_conversations

# A file from a contact may be anything: it runs nothing and loads nothing from Picky.
MEDIA_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"


@require_GET
@project_page
def media(request, project, pk):
    """The media of received message `pk`: the message is the project's and its contact's
    timeline is on a chat the user sees (as on the conversation page), else 404."""
    contacts = visible_conversations(request.user, project, request.role).values("contact_id")
    message = (
        Message.objects.select_related("channel")
        .filter(project=project, pk=pk, direction=Message.Direction.IN, contact_id__in=contacts)
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    try:
        fetched = fetch_message_media(message)
    except MediaUnavailable as exc:
        response = HttpResponse(str(exc), status=502, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
    else:
        response = HttpResponse(fetched.content, content_type=fetched.content_type)
        response["Content-Disposition"] = content_disposition_header(
            not shows_inline(fetched.content_type), fetched.filename
        )
        response["Cache-Control"] = "private, max-age=300"
    response["Content-Security-Policy"] = MEDIA_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    return response
