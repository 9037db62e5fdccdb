"""Who is assigned to a chat, and changing it.

Every change of a chat's assignees moves Conversation.assignment_version on. Routing
claims a chat only at the version it read (compare-and-set: UPDATE ... WHERE
assignment_version = read), so a routing that lost a race changes nothing and never
flips an assignment back; assigning and removing by hand lock the chat's row first.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry

from ..models import Agent, Conversation, ConversationAssignee
from .eligible import ids_of

NOTE_MAX_LENGTH = 160


def assignees_of(conversation):
    """The users assigned to the chat, in the order they were assigned."""
    return list(
        get_user_model()
        .objects.filter(chat_assignments__conversation=conversation)
        .order_by("chat_assignments__assigned_at", "chat_assignments__pk")
    )


def display_name(user):
    return user.get_full_name() or user.get_username()


def names_of(users):
    return ", ".join(display_name(user) for user in users)


def lock_conversation(conversation):
    """Hold the chat's row until the transaction ends: a routing's claim in between fails."""
    list(Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk"))


def claim(conversation, version, user_id, *, department_id=None):
    """Hand the chat to user `user_id` alone, in `department_id`, if its assignees are still
    those of `version`; the users it takes the chat from, or None when the chat changed
    meanwhile (nothing is written). Call inside transaction.atomic()."""
    won = Conversation.objects.filter(pk=conversation.pk, assignment_version=version).update(
        assignment_version=F("assignment_version") + 1, department_id=department_id
    )
    if not won:
        return None
    previous = ConversationAssignee.objects.filter(conversation=conversation).exclude(
        user_id=user_id
    )
    removed = [assignment.user for assignment in previous.select_related("user")]
    if removed:
        previous.delete()
    ConversationAssignee.objects.get_or_create(conversation=conversation, user_id=user_id)
    conversation.assignment_version = version + 1
    conversation.department_id = department_id
    return removed


def assignment_entry(conversation, users, *, author=None, text="", **data):
    return crm.add_timeline_entry(
        conversation.contact,
        TimelineEntry.Kind.ASSIGNMENT,
        text or f"Assigned to {names_of(users)}",
        data={
            "conversation": conversation.pk,
            "channel": conversation.channel.name,
            "users": [{"id": user.pk, "name": display_name(user)} for user in users],
            **data,
        },
        author=author,
    )


def assign_users(conversation, users, *, departments=(), author=None, note=""):
    """Add `users` and every enabled agent of `departments` to the chat's assignees (each
    once); the chat's department becomes the first of `departments`. `note` is an
    internal message shown on the timeline entry. Returns the assignees after the call."""
    note = str(note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValueError(
            f"The internal message has {len(note)} characters; at most {NOTE_MAX_LENGTH} "
            "are allowed."
        )
    wanted = {getattr(user, "pk", user) for user in users}
    if departments:
        wanted.update(
            Agent.objects.filter(
                project_id=conversation.project_id,
                enabled=True,
                pk__in=Agent.departments.through.objects.filter(
                    department_id__in=ids_of(departments)
                ).values("agent_id"),
            ).values_list("user_id", flat=True)
        )
    now = timezone.now()
    with transaction.atomic():
        lock_conversation(conversation)
        present = set(
            ConversationAssignee.objects.filter(conversation=conversation).values_list(
                "user_id", flat=True
            )
        )
        added = get_user_model().objects.filter(pk__in=wanted - present).order_by("pk")
        added = list(added)
        if not added:
            return assignees_of(conversation)
        ConversationAssignee.objects.bulk_create(
            ConversationAssignee(conversation=conversation, user=user) for user in added
        )
        fields = {"assignment_version": F("assignment_version") + 1}
        if departments:
            fields["department_id"] = ids_of(departments)[0]
        Conversation.objects.filter(pk=conversation.pk).update(**fields)
        Agent.objects.filter(project_id=conversation.project_id, user__in=added).update(
            last_assigned_at=now
        )
        text = f"Assigned to {names_of(added)}" + (f": {note}" if note else "")
        assignment_entry(conversation, added, author=author, text=text, note=note)
    return assignees_of(conversation)


def remove_assignees(conversation, users=None, *, author=None):
    """Remove `users` (None: everyone) from the chat's assignees; returns who was removed."""
    with transaction.atomic():
        lock_conversation(conversation)
        assigned = ConversationAssignee.objects.filter(conversation=conversation)
        if users is not None:
            assigned = assigned.filter(user_id__in=[getattr(u, "pk", u) for u in users])
        removed = [assignment.user for assignment in assigned.select_related("user")]
        if not removed:
            return []
        assigned.delete()
        Conversation.objects.filter(pk=conversation.pk).update(
            assignment_version=F("assignment_version") + 1
        )
        crm.add_timeline_entry(
            conversation.contact,
            TimelineEntry.Kind.KICK,
            f"Removed {names_of(removed)} from the chat",
            data={
                "conversation": conversation.pk,
                "channel": conversation.channel.name,
                "users": [{"id": user.pk, "name": display_name(user)} for user in removed],
            },
            author=author,
        )
    return removed
