"""The inbox's list: a page of conversations, newest activity first, filtered, with the
reader's unread count, assignees and the contact's tags.

Keyset pagination (the last row's activity time and id), so the hundredth page costs
what the first does, and a fixed number of queries whatever the page's size: the page
itself, its assignees' names, its contacts' tags' names and its details (unread counts,
last messages)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from crm.models import Contact
from crm.services import normalise_number

from .models import Conversation, ConversationAssignee, Message

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
        (never-active first, then last activity descending; id descending within each).
        Written so that the activity index can start its scan at the cursor."""
        if self.last_message_at is None:
            return Q(last_message_at__isnull=True, pk__lt=self.pk) | Q(
                last_message_at__isnull=False
            )
        return Q(last_message_at__lte=self.last_message_at) & (
            Q(last_message_at__lt=self.last_message_at) | Q(pk__lt=self.pk)
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


def with_page_details(rows, reader):
    """Set on each of `rows` (a page of conversations) the reader's unread count
    (`unread`, 0 when not assigned) and the latest message's text (`last_text`, else
    `last_template`), in one query for the page: computed inside the page's own query,
    they would be computed for every chat the database sorts, not just those shown."""
    unread = ConversationAssignee.objects.filter(conversation=OuterRef("pk"), user=reader)
    latest = Message.objects.filter(
        contact_id=OuterRef("contact_id"), channel_id=OuterRef("channel_id")
    ).order_by("-created_at", "-id")
    details = Conversation.objects.filter(pk__in=[row.pk for row in rows]).values_list(
        "pk",
        Coalesce(
            Subquery(unread.values("unread_count")[:1], output_field=IntegerField()), Value(0)
        ),
        Subquery(latest.values("body")[:1]),
        Subquery(latest.values("template")[:1]),
    )
    by_id = {pk: rest for pk, *rest in details} if rows else {}
    for row in rows:
        row.unread, row.last_text, row.last_template = by_id.get(row.pk, (0, None, None))


def with_names(rows):
    """Set on each of `rows` its assignees' names (`assignee_names`, in the order they were
    assigned) and its contact's tags' names (`tag_names`, by name), one query each: the
    names alone, as the list shows nothing else of them (model instances for a page's
    assignees, users and tags cost more than the rest of its row)."""
    assignees, tags = {}, {}
    if rows:
        people = (
            ConversationAssignee.objects.filter(conversation_id__in=[row.pk for row in rows])
            .order_by("pk")
            .values_list("conversation_id", "user__first_name", "user__last_name", "user__username")
        )
        for chat, first, last, username in people:
            assignees.setdefault(chat, []).append(f"{first} {last}".strip() or username)
        labels = (
            Contact.tags.through.objects.filter(contact_id__in={row.contact_id for row in rows})
            .order_by("tag__name")
            .values_list("contact_id", "tag__name")
        )
        for contact, name in labels:
            tags.setdefault(contact, []).append(name)
    for row in rows:
        row.assignee_names = assignees.get(row.pk, [])
        row.tag_names = tags.get(row.contact_id, [])


def inbox_page(conversations, reader, *, after=None, size=PAGE_SIZE):
    """A page of `conversations` (already filtered: access, tab, filters) as the inbox
    shows it for `reader`, newest activity first (a chat without any yet counts as
    newest): each with its contact, channel and department, with_names' and
    with_page_details'."""
    rows = (
        conversations.select_related("contact", "channel", "department")
        # DESC NULLS FIRST on both databases: the (project, status, last_message_at)
        # index read backwards gives this order, so a page reads only its rows.
        .order_by(F("last_message_at").desc(nulls_first=True), "-pk")
    )
    if after is not None:
        rows = rows.filter(after.after())
    rows = list(rows[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    with_names(rows)
    with_page_details(rows, reader)
    next_cursor = Cursor(rows[-1].last_message_at, rows[-1].pk) if more else None
    return InboxPage(rows, next_cursor)
