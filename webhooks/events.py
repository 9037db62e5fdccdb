"""The event webhook's payloads (Picky Assist's documented events 1 to 4) and when they go.

1 Delivery report: an outbound message's status moved (a send's result, a provider's
  status webhook); one delivery per project and batch of changes.
2 WhatsApp filter report: none of Picky's channels can tell whether a number is on WhatsApp
  before messaging it (the WhatsApp Cloud API has no such look-up), so it is never sent.
3 Group member joined or left: a number joined or left a WhatsApp group (teambox's
  `group_members_changed`); one delivery per change.
4 New subscriber: the first inbound message of a contact.
"""

from zoneinfo import ZoneInfo

from teambox.models import Message
from teambox.push import APPLICATION_KINDS

from .deliveries import enqueue_many
from .models import Delivery, Event, WebhookSettings

# Picky Assist's delivery report statuses, by Picky's message status.
REPORT_STATUS = {
    Message.Status.QUEUED: 0,  # unknown: not handed to the channel yet
    Message.Status.DELIVERED: 1,
    Message.Status.FAILED: 2,
    Message.Status.READ: 3,
    Message.Status.SUBMITTED: 4,
}
# 5 (refunded) is never sent: Picky debits no credits.
UNKNOWN = 0
# Picky Assist's group event actions, by teambox's action name.
GROUP_ACTIONS = {"joined": 1, "left": 2}
UNAVAILABLE = {Event.FILTER_REPORT}


def listening(project_ids, event):
    """{project id: WebhookSettings} of the projects whose event webhook takes `event`."""
    found = (
        WebhookSettings.objects.filter(project_id__in=project_ids, enabled=True)
        .exclude(event_url="")
        .select_related("project")
    )
    return {hooks.project_id: hooks for hooks in found if hooks.sends(event)}


def send_event(hooks, event, data):
    payload = {"project_id": hooks.project_id, "event_id": int(event), "data": data}
    items = [(hooks.event_url, payload, None)]
    created = enqueue_many(hooks, Delivery.Kind.EVENT, items, event=event)
    return created[0] if created else None


def delivery_reports(messages):
    """Event 1 for outbound messages whose status moved: one delivery per project."""
    outbound = [m for m in messages if m.direction == Message.Direction.OUT]
    hooks_of = listening({m.project_id for m in outbound}, Event.DELIVERY_REPORT)
    by_project = {}
    for message in outbound:
        if message.project_id in hooks_of:
            by_project.setdefault(message.project_id, []).append(delivery_report(message))
    for project_id, data in by_project.items():
        send_event(hooks_of[project_id], Event.DELIVERY_REPORT, data)


def delivery_report(message):
    failed = message.status == Message.Status.FAILED
    # Ids as text, as the Push API answers them.
    return {
        "push_id": str(message.push_id or ""),
        "number": message.address,
        "msg_id": str(message.pk),
        "status": REPORT_STATUS.get(message.status, UNKNOWN),
        "reference_number": message.reference_number,
        "error_code": "",
        "error_message": message.error if failed else "",
    }


def group_member_event(group, numbers, action, at):
    """Event 3: `numbers` joined or left (`action` "joined" or "left") the WhatsApp group
    `group` at `at` (an aware datetime)."""
    if action not in GROUP_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(GROUP_ACTIONS)}, not {action!r}")
    channel = group.channel
    hooks = listening([channel.project_id], Event.GROUP_MEMBER).get(channel.project_id)
    if hooks is None or not numbers:
        return None
    application = application_of(channel)
    data = [
        {
            "group_id": group.gateway_id,
            "group_subject": group.subject,
            "number": number,
            "action": GROUP_ACTIONS[action],
            "application": application,
            "date": local_iso(at, channel.project),
        }
        for number in numbers
    ]
    return send_event(hooks, Event.GROUP_MEMBER, data)


def new_subscribers(messages, channel):
    """Event 4 for each contact whose first inbound message is among `messages`."""
    hooks = listening([channel.project_id], Event.NEW_SUBSCRIBER).get(channel.project_id)
    if hooks is None:
        return
    firsts = {}
    for message in messages:
        if message.contact is not None:
            firsts.setdefault(message.contact_id, message)
    heard_before = set(
        Message.objects.filter(contact_id__in=list(firsts), direction=Message.Direction.IN)
        .exclude(pk__in=[message.pk for message in messages])
        .values_list("contact_id", flat=True)
        .distinct()
    )
    data = [
        new_subscriber(message, channel)
        for contact_id, message in firsts.items()
        if contact_id not in heard_before
    ]
    if data:
        send_event(hooks, Event.NEW_SUBSCRIBER, data)


def new_subscriber(message, channel):
    contact = message.contact
    return {
        "subscriber_id": contact.pk,
        "mobile": contact.number,
        "name": contact.name,
        "email": contact.email,
        "profile_pic": "",
        "channel": channel.name,
        "channel_id": channel.pk,
        "message": message.body,
        "date": local_iso(message.created_at, channel.project),
    }


def application_of(channel):
    """The Push API's application code of the channel's kind (teambox.push's table): the
    first code its kind serves, so the code a receiver gets also selects that channel
    in a Push API call; "" for kinds without one (e-mail)."""
    codes = [code for code, kinds in APPLICATION_KINDS.items() if channel.kind in kinds]
    return str(codes[0]) if codes else ""


def local_iso(moment, project):
    return moment.astimezone(ZoneInfo(project.time_zone)).isoformat(timespec="seconds")
