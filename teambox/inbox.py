"""The inbox's list: a page of conversations, newest activity first, filtered, with the
reader's unread count, assignees and the contact's tags.

Keyset pagination (the last row's activity time and id), so the hundredth page costs
what the first does, and a fixed number of queries whatever the page's size: the page
itself, its assignees and its contacts' tags."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce

from crm.models import Contact
from crm.services import normalise_number

from .models import ConversationAssignee, Message

PAGE_SIZE = 50
NO_TIME = "-"
MINE, UNASSIGNED, ALL = "mine", "unassigned", "all"
NOBODY = "none"


def assigned_to(user):
    """Condition on Conversation: `user` is one of its assignees."""
    return Exists(ConversationAssignee.objects.filter(conversation=OuterRef("pk"), user=user))


def unassigned():
    """Condition on Conversation: nobody is assigned."""
    return ~Exists(ConversationAssignee.objects.filter(conversation=OuterRef("pk")))


def tagged(name):
    """Condition on Conversation: its contact has the tag `name` (any case)."""
    return Exists(
        Contact.tags.through.objects.filter(
            contact_id=OuterRef("contact_id"), tag__name__iexact=name.strip()
        )
    )


def filter_inbox(
    conversations,
    reader,
    *,
    tab=MINE,
    status="",
    channel=None,
    department=None,
    tag="",
    assignee=None,
    search="",
):
    """`conversations` narrowed to an inbox tab (MINE: assigned to `reader`; UNASSIGNED;
    ALL) and the filters given: a status value, a channel, a department, a contact tag's
    name, an assignee (a user, or NOBODY) and a search of the contact's name or number.
    Empty filters do not filter."""
    if tab == MINE:
        conversations = conversations.filter(assigned_to(reader))
    elif tab == UNASSIGNED:
        conversations = conversations.filter(unassigned())
    if status:
        conversations = conversations.filter(status=status)
    if channel is not None:
        conversations = conversations.filter(channel=channel)
    if department is not None:
        conversations = conversations.filter(department=department)
    if tag.strip():
        conversations = conversations.filter(tagged(tag))
    if assignee == NOBODY:
        conversations = conversations.filter(unassigned())
    elif assignee is not None:
        conversations = conversations.filter(assigned_to(assignee))
    if search.strip():
        conversations = conversations.filter(search_condition(search))
    return conversations


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after the row of this activity time (None: no activity yet)
    and id, in the inbox's order."""

    last_message_at: datetime | None
    pk: int

    def __str__(self):
        at = self.last_message_at.isoformat() if self.last_message_at else NO_TIME
        return f"{at}_{self.pk}"

    @classmethod
    def parse(cls, text):
        """The cursor written by str(); ValueError when `text` is not one."""
        at, _, pk = str(text).rpartition("_")
        return cls(None if at == NO_TIME else datetime.fromisoformat(at), int(pk))

    def after(self):
        """Condition on Conversation: the row comes after the cursor's in the inbox order
        (last activity descending, never-active last, then id descending)."""
        if self.last_message_at is None:
            return Q(last_message_at__isnull=True, pk__lt=self.pk)
        return (
            Q(last_message_at__lt=self.last_message_at)
            | Q(last_message_at=self.last_message_at, pk__lt=self.pk)
            | Q(last_message_at__isnull=True)
        )


@dataclass
class InboxPage:
    conversations: list
    next_cursor: Cursor | None


def search_condition(text):
    """Condition on Conversation: the contact's name contains `text`, or their number
    contains its digits (typed with +, spaces or dashes)."""
    text = text.strip()
    condition = Q(contact__name__icontains=text)
    digits = normalise_number(text) if any(ch.isdigit() for ch in text) else ""
    if digits:
        condition |= Q(contact__number__contains=digits)
    return condition


def last_message_text():
    """The conversation's latest message text (its body, else its template's name)."""
    latest = Message.objects.filter(
        contact_id=OuterRef("contact_id"), channel_id=OuterRef("channel_id")
    ).order_by("-created_at", "-id")
    return Subquery(latest.values("body")[:1]), Subquery(latest.values("template")[:1])


def inbox_page(conversations, reader, *, after=None, size=PAGE_SIZE):
    """A page of `conversations` (already filtered: access, tab, filters) as the inbox
    shows it for `reader`: each with `unread` (the reader's unread count, 0 when not
    assigned), `last_text`, `last_template`, its assignees (`assignments`, users
    loaded) and its contact's tags."""
    unread = ConversationAssignee.objects.filter(conversation=OuterRef("pk"), user=reader).values(
        "unread_count"
    )[:1]
    last_body, last_template = last_message_text()
    rows = (
        conversations.select_related("contact", "channel", "department")
        .annotate(
            unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
            last_text=last_body,
            last_template=last_template,
        )
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=ConversationAssignee.objects.select_related("user").order_by("pk"),
            ),
            "contact__tags",
        )
        .order_by(F("last_message_at").desc(nulls_last=True), "-pk")
    )
    if after is not None:
        rows = rows.filter(after.after())
    rows = list(rows[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = Cursor(rows[-1].last_message_at, rows[-1].pk) if more else None
    return InboxPage(rows, next_cursor)
