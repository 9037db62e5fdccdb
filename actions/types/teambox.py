"""Teambox actions: hand the contact's chat to agents (assign_chat), put a card on their
timeline (add_event_feed), take agents off their chat (kick_user, kick_all_users), notify
agents (send_instant_notification) and list agents for later actions (get_users).

They call the teambox services only, and their effect is on Picky's own database: it
commits with the action's log line, so a re-run never repeats it, and a simulation runs
it for real and rolls it back. That holds for assign_chat's offline message too: routing
queues it as a message row (teambox.services.queue_message), which is handed to the
sender only once the transaction commits, so a failed action or a simulation, rolled
back, sends nothing, and a committed one sends it once: a database effect, not an
outside one. assign_chat and get_users pick agents under their pool's lock and write the
agents' last assigned time, which every run picking from the pool waits for: they are
Effect.SHARED_ROW, so the run commits right after them and the lock is held briefly.
The others write a contact's chat and timeline, or notifications (Effect.DATABASE).

Agents are named by username, e-mail address or user id (their reference number); a
name the project does not have is refused on save (when the form knows the project) and
fails the run's step when the agent is gone by then, naming it either way. A name with a
template is checked when the action runs.
"""

import webcolors
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db.models import prefetch_related_objects

from crm import services as crm
from crm.models import TimelineEntry
from crm.records.access import find_project_record
from crm.records.values import RecordError
from picky.json_input import JSONInputField
from picky.models import Membership
from picky.templating import HOLE, to_text
from teambox import assignment, conversations, notifications
from teambox import services as messaging

from ..base import VARIABLE_NAME, ActionConfigForm, ActionError, ActionType, Effect, Result
from ..pickers import PickerInput
from ..registry import register
from .crm import the_contact
from .fields import ChannelNameField, RowsInput
from .team import (
    AGENTS,
    DEPARTMENTS,
    PRESENCES,
    FlatListField,
    NameListField,
    agents_for,
    check_count,
    departments_for,
    quoted,
)

MAX_BUTTONS = 10
BUTTON_NAME_LENGTH = 40
INLINE, NEW_WINDOW = "inline", "new_window"
COLOUR_KEYS = ("background_colour", "border_colour", "text_colour")
BUTTON_KEYS = ("name", "url", "opens", *COLOUR_KEYS)
WEB_SCHEMES = ("http://", "https://")
WEB_ADDRESS = URLValidator(schemes=["http", "https"])


def literal(text):
    """Whether `text` has no template hole: what it is is known on save."""
    return "{{" not in str(text)


def channel_for(ctx, inputs):
    name = to_text(inputs.get("channel")).strip()
    channel = messaging.find_channel(ctx.project, name)
    if channel is None:
        raise ActionError(messaging.unknown_channel_message(ctx.project, name))
    return channel


def user_output(user):
    return {"id": user.pk, "name": user.get_full_name() or user.get_username(), "email": user.email}


class TextOnly:
    """For a text field: a list or an object given in its place is refused, not written
    down as Python shows it."""

    def to_python(self, value):
        if isinstance(value, (dict, list)):
            raise ValidationError("Give text here, not a list or an object.")
        return super().to_python(value)


class TextField(TextOnly, forms.CharField):
    pass


class ChannelField(TextOnly, ChannelNameField):
    pass


class TeamboxForm(ActionConfigForm):
    """Checks, on save, the agents and departments its fields name (literal ones)."""

    agent_fields = ()
    department_fields = ()

    def clean(self):
        cleaned = super().clean()
        if self.project is None:
            return cleaned
        for fields, kind in ((self.agent_fields, AGENTS), (self.department_fields, DEPARTMENTS)):
            for name in fields:
                names = [item for item in cleaned.get(name) or [] if literal(item)]
                unknown = kind.unknown(self.project, names)
                if unknown:
                    self.add_error(name, kind.unknown_message(self.project, unknown))
        return cleaned


class TeamboxActionType(ActionType):
    category = "Teambox"
    effect = Effect.DATABASE


# Event feed cards ------------------------------------------------------------------------


def colour_problem(value):
    """Why `value` is no colour (None when it is one): "#rgb", "#rrggbb" or a CSS colour
    name ("teal"), whatever the case."""
    text = str(value).strip()
    try:
        if text.startswith("#"):
            webcolors.normalize_hex(text)
        else:
            webcolors.name_to_hex(text)
    except ValueError:
        return (
            f"{text!r} is not a colour: give #rgb, #rrggbb (e.g. #1a7f37) or a CSS colour "
            "name (e.g. teal)."
        )
    return None


def web_address_problem(value, what):
    """Why `value` is no http(s) address (None when it is one)."""
    try:
        WEB_ADDRESS(str(value).strip())
    except ValidationError:
        return f"The {what} {str(value)!r} is not a web address (one starting with https://)."
    return None


def template_address_problem(value, what):
    """On save: a web address, or a template whose text before its first hole can still
    start one ("https://shop.example/{{ event.id }}", "{{ event.url }}")."""
    if literal(value):
        return web_address_problem(value, what)
    start = str(value).split("{{", 1)[0].strip().lower()
    if any(scheme.startswith(start) or start.startswith(scheme) for scheme in WEB_SCHEMES):
        return None
    return f"The {what} {str(value)!r} is not a web address (one starting with https://)."


def button_problems(buttons, *, rendered):
    """What is wrong with a list of buttons ([] when nothing): each is an object with a
    name, an http(s) URL, where it opens (inline or new_window) and optional colours.
    Before rendering (on save) a template stands in for a value checked at run."""
    if not isinstance(buttons, list):
        return ['Give a list of buttons: [{"name": "Open order", "url": "https://..."}].']
    if len(buttons) > MAX_BUTTONS:
        return [f"At most {MAX_BUTTONS} buttons; {len(buttons)} given."]
    problems = []
    for index, button in enumerate(buttons, 1):
        where = f"Button {index}"
        if not isinstance(button, dict):
            problems.append(f'{where} is not an object like {{"name": "...", "url": "..."}}.')
            continue
        unknown = sorted(set(button) - set(BUTTON_KEYS))
        if unknown:
            problems.append(
                f"{where} has settings a button does not take ({', '.join(unknown)}); it takes "
                f"{', '.join(BUTTON_KEYS)}."
            )
        name = to_text(button.get("name")).strip()
        if not name:
            problems.append(f"{where} needs a name.")
        elif len(name) > BUTTON_NAME_LENGTH and (rendered or literal(name)):
            problems.append(
                f"{where}'s name has {len(name)} characters; at most {BUTTON_NAME_LENGTH} are "
                "allowed."
            )
        url = to_text(button.get("url")).strip()
        check = web_address_problem if rendered else template_address_problem
        problem = check(url, "button URL") if url else f"{where} needs a URL."
        if problem:
            problems.append(problem)
        opens = button.get("opens", NEW_WINDOW)
        if opens not in (INLINE, NEW_WINDOW):
            problems.append(
                f"{where} opens {opens!r}: choose {INLINE!r} (in a sandboxed frame beside "
                f"the chat) or {NEW_WINDOW!r}."
            )
        for key in COLOUR_KEYS:
            value = button.get(key)
            checked = value not in (None, "") and (rendered or literal(value))
            if checked and (problem := colour_problem(value)):
                problems.append(f"{where}: {problem}")
    return problems


class ColourField(TextField):
    """A colour: #rgb, #rrggbb or a CSS colour name; a template is checked at run."""

    def validate(self, value):
        super().validate(value)
        if value and literal(value) and (problem := colour_problem(value)):
            raise ValidationError(problem)


class EventFeedCardForm(forms.Form):
    """An event-feed card: subject and body (templates), a media URL, buttons, colours."""

    subject = TextField(max_length=1000, help_text="The card's title; templates allowed.")
    body = TextField(
        required=False, widget=forms.Textarea, help_text="The card's text; templates allowed."
    )
    media_url = TextField(
        required=False, max_length=1000, help_text="An image or file shown on the card (https)."
    )
    buttons = JSONInputField(
        required=False,
        widget=RowsInput("list", item="map", keys=BUTTON_KEYS),
        help_text='Up to 10 buttons, e.g. [{"name": "Open order", "url": '
        '"https://shop.example/orders/{{ event.order_id }}", "opens": "inline", '
        '"background_colour": "#1a7f37", "border_colour": "#116329", "text_colour": "white"}]; '
        '"opens" is "inline" (a sandboxed frame beside the chat) or "new_window" (the '
        "default). Colours: #rgb, #rrggbb or a CSS colour name.",
    )
    background_colour = ColourField(required=False, max_length=30)
    border_colour = ColourField(required=False, max_length=30)
    text_colour = ColourField(required=False, max_length=30)

    def clean_media_url(self):
        url = self.cleaned_data.get("media_url", "").strip()
        if url and (problem := template_address_problem(url, "media URL")):
            raise ValidationError(problem)
        return url

    def clean_buttons(self):
        buttons = self.cleaned_data.get("buttons")
        if buttons in (None, "", []):
            return buttons
        problems = button_problems(buttons, rendered=False)
        if problems:
            raise ValidationError(problems)
        return buttons


CARD_FIELDS = tuple(EventFeedCardForm.base_fields)


def event_feed_card(inputs):
    """The card of rendered `inputs` as the timeline keeps it, or an ActionError saying
    what a template made wrong."""
    subject = " ".join(to_text(inputs.get("subject")).split())
    if not subject:
        raise ActionError("The event feed's subject came out empty, so no card was added.")
    card = {"subject": subject, "body": to_text(inputs.get("body")).strip()}
    media_url = to_text(inputs.get("media_url")).strip()
    if media_url and (problem := web_address_problem(media_url, "media URL")):
        raise ActionError(problem)
    card["media_url"] = media_url
    buttons = inputs.get("buttons") or []
    problems = button_problems(buttons, rendered=True)
    if problems:
        raise ActionError(" ".join(problems))
    card["buttons"] = [
        {
            "name": to_text(button["name"]).strip(),
            "url": to_text(button["url"]).strip(),
            "opens": button.get("opens", NEW_WINDOW),
            **colours_of(button),
        }
        for button in buttons
    ]
    card.update(colours_of(inputs))
    for key in COLOUR_KEYS:
        if key in card and (problem := colour_problem(card[key])):
            raise ActionError(f"The card's {key.replace('_', ' ')}: {problem}")
    return card


def colours_of(settings):
    return {
        key: to_text(settings[key]).strip()
        for key in COLOUR_KEYS
        if to_text(settings.get(key)).strip()
    }


def add_card(contact, card, **data):
    text = card["subject"] + (f"\n{card['body']}" if card["body"] else "")
    return crm.add_timeline_entry(
        contact, TimelineEntry.Kind.EVENT_FEED, text, data={**card, **data}
    )


class AddEventFeedForm(EventFeedCardForm, ActionConfigForm):
    pass


@register("add_event_feed")
class AddEventFeed(TeamboxActionType):
    label = "Add Event Feed"
    description = (
        "Put a card (subject, body, media, buttons) on the contact's timeline, beside their "
        "chat, without assigning anyone."
    )
    form_class = AddEventFeedForm

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        entry = add_card(contact, event_feed_card(inputs))
        return Result(outputs={"entry": entry.pk, **entry.data})


# assign_chat -----------------------------------------------------------------------------

ROUTING, CHOSEN = "routing", "chosen"


def internal_message_problem(text, *, rendered):
    """Why the internal message is too long (None when it is not); before rendering only
    its text outside template holes counts."""
    length = len(str(text).strip() if rendered else HOLE.sub("", str(text)).strip())
    if length > assignment.NOTE_MAX_LENGTH:
        return (
            f"The internal message has {length} characters; at most "
            f"{assignment.NOTE_MAX_LENGTH} are allowed."
        )
    return None


class EventFeedField(JSONInputField):
    """An optional event-feed card, as add_event_feed's settings in one object."""

    def validate(self, value):
        super().validate(value)
        if value in (None, "", {}):
            return
        if not isinstance(value, dict):
            raise ValidationError('Give an object: {"subject": "...", "body": "..."}.')
        unknown = sorted(set(value) - set(CARD_FIELDS))
        if unknown:
            raise ValidationError(
                f"The event feed does not take {', '.join(unknown)}; it takes "
                f"{', '.join(CARD_FIELDS)}."
            )
        card = EventFeedCardForm(data=value)
        if not card.is_valid():
            raise ValidationError(
                [
                    f"{name.replace('_', ' ')}: {message}" if name != "__all__" else message
                    for name, messages in card.errors.items()
                    for message in messages
                ]
            )


class AssignChatForm(TeamboxForm):
    channel = ChannelField(
        max_length=100, help_text="The channel of the chat (one of the project's channels)."
    )
    assign_by = forms.ChoiceField(
        choices=[
            (ROUTING, "Default routing rules"),
            (CHOSEN, "Assign to the users and departments chosen below"),
        ],
        required=False,
        initial=ROUTING,
        label="Assignment logic",
    )
    send_offline_message = forms.BooleanField(
        required=False,
        label="Send the no-response/offline message if no user attends",
        help_text="Default routing rules only: the routing rule's offline message goes to the "
        "customer when no agent can take the chat.",
    )
    users = NameListField(
        required=False,
        widget=PickerInput("members", multiple=True),
        help_text="Agents by username, e-mail address or user id; templates allowed.",
    )
    departments = NameListField(
        required=False,
        widget=PickerInput("departments", multiple=True),
        help_text="Every enabled agent of these departments is assigned.",
    )
    internal_message = TextField(
        required=False,
        widget=forms.Textarea,
        help_text=f"A note for the agents on the chat's timeline, at most "
        f"{assignment.NOTE_MAX_LENGTH} characters; templates allowed.",
    )
    event_feed = EventFeedField(
        required=False,
        help_text='Optional card on the timeline: {"subject": "Order {{ event.id }}", "body": '
        '"...", "media_url": "...", "buttons": [...]} (as Add Event Feed).',
    )
    agent_fields = ("users",)
    department_fields = ("departments",)

    def clean_internal_message(self):
        text = self.cleaned_data.get("internal_message", "")
        if problem := internal_message_problem(text, rendered=False):
            raise ValidationError(problem)
        return text

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("assign_by") == CHOSEN:
            named = cleaned.get("users") or cleaned.get("departments")
            if not named and not {"users", "departments"} & set(self.errors):
                self.add_error("users", "Choose the users or departments to assign the chat to.")
            if cleaned.get("send_offline_message"):
                self.add_error(
                    "send_offline_message",
                    "Only the default routing rules send the offline message: untick it, or "
                    "choose the default routing rules.",
                )
        else:
            for name in ("users", "departments"):
                if cleaned.get(name):
                    self.add_error(
                        name,
                        "The default routing rules choose the agents: choose “Assign to the "
                        "users and departments chosen below”, or leave this empty.",
                    )
        return cleaned


@register("assign_chat")
class AssignChat(TeamboxActionType):
    label = "Assign Chat"
    description = (
        "Assign the contact's chat on a channel by the routing rules or to chosen users and "
        "departments, starting it if the contact never wrote."
    )
    effect = Effect.SHARED_ROW  # the pool's lock and the agents' rows (module docstring)
    form_class = AssignChatForm

    def chosen(self, ctx, inputs):
        """(users, departments) the chat is assigned to, when they are chosen."""
        users = [agent.user for agent in agents_for(ctx.project, inputs.get("users"))]
        departments = departments_for(ctx.project, inputs.get("departments"))
        if not users and not departments:
            raise ActionError("No user or department was given, so the chat was not assigned.")
        return users, departments

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        channel = channel_for(ctx, inputs)
        note = to_text(inputs.get("internal_message")).strip()
        if problem := internal_message_problem(note, rendered=True):
            raise ActionError(problem)
        card = event_feed_card(inputs["event_feed"]) if inputs.get("event_feed") else None
        chosen = None if inputs.get("assign_by", ROUTING) == ROUTING else self.chosen(ctx, inputs)
        try:
            conversation, opened = conversations.open_conversation(channel, contact)
        except conversations.ConversationError as exc:
            raise ActionError(str(exc)) from exc
        if chosen is None:
            assignees = assignment.route_conversation(
                conversation, send_offline_message=inputs.get("send_offline_message") is True
            )
            if note:
                conversations.add_internal_note(conversation, note, author=None)
        else:
            users, departments = chosen
            assignees = assignment.assign_users(
                conversation, users, departments=departments, note=note
            )
        if card is not None:
            add_card(contact, card, conversation=conversation.pk, channel=channel.name)
        return Result(
            outputs={
                "conversation": conversation.pk,
                "channel": channel.name,
                "started": opened,
                "assignees": [user_output(user) for user in assignees],
            }
        )


# kick_user, kick_all_users ---------------------------------------------------------------


class KickAllUsersForm(ActionConfigForm):
    channel = ChannelField(
        required=False,
        max_length=100,
        help_text="The channel of the chat; empty: the contact's chats on every channel.",
    )


class KickUserForm(TeamboxForm, KickAllUsersForm):
    users = NameListField(
        widget=PickerInput("members", multiple=True),
        help_text="Agents by username, e-mail address or user id; templates allowed.",
    )
    agent_fields = ("users",)


class Kick(TeamboxActionType):
    def kick(self, ctx, inputs, users):
        contact = the_contact(ctx)
        channel = channel_for(ctx, inputs) if to_text(inputs.get("channel")).strip() else None
        chats = conversations.contact_conversations(contact, channel)
        removed = {}
        for conversation in chats:
            for user in assignment.remove_assignees(conversation, users):
                removed[user.pk] = user
        return Result(
            outputs={
                "conversations": [conversation.pk for conversation in chats],
                "removed": [user_output(user) for user in removed.values()],
            }
        )


@register("kick_user")
class KickUser(Kick):
    label = "Kick User"
    description = "Remove the given agents from the contact's chat."
    form_class = KickUserForm

    def run(self, ctx, inputs):
        agents = agents_for(ctx.project, inputs.get("users"))
        if not agents:
            raise ActionError("No user was given, so nobody was removed from the chat.")
        return self.kick(ctx, inputs, [agent.user for agent in agents])


@register("kick_all_users")
class KickAllUsers(Kick):
    label = "Kick All Users"
    description = "Remove every agent from the contact's chat."
    form_class = KickAllUsersForm

    def run(self, ctx, inputs):
        return self.kick(ctx, inputs, None)


# send_instant_notification ---------------------------------------------------------------

CHOSEN_AGENTS, MAPPED = "agents", "mapped"
BY_EMAIL, BY_ID = "email", "id"


class SendInstantNotificationForm(TeamboxForm):
    send_to = forms.ChoiceField(
        choices=[
            (CHOSEN_AGENTS, "The agents chosen below"),
            (MAPPED, "Agents mapped from the event (by e-mail address or id)"),
        ],
        required=False,
        initial=CHOSEN_AGENTS,
    )
    agents = NameListField(
        required=False,
        widget=PickerInput("members", multiple=True),
        help_text="Agents by username, e-mail address or user id.",
    )
    map_by = forms.ChoiceField(
        choices=[
            (BY_EMAIL, "E-mail address"),
            (BY_ID, "Id (reference number): the agent's user id, shown in Teambox → Agents"),
        ],
        required=False,
        initial=BY_EMAIL,
    )
    map_value = TextField(
        required=False,
        max_length=1000,
        help_text="A template giving one or more (comma-separated) e-mail addresses or ids, "
        "e.g. {{ event.owner_email }}.",
    )
    title = TextField(max_length=1000, help_text="Templates allowed.")
    description = TextField(required=False, widget=forms.Textarea)
    browser = forms.BooleanField(
        required=False, label="Send browser notification", help_text="Also pop up in the browser."
    )
    attach_record = forms.BooleanField(required=False, label="Attach a CRM record")
    record_id = TextField(
        required=False,
        max_length=notifications.RECORD_ID_LENGTH,
        help_text="The record's id, e.g. {{ vars.order.id }}.",
    )
    agent_fields = ("agents",)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("send_to") == MAPPED:
            if not cleaned.get("map_value"):
                self.add_error("map_value", "Give the template the agents are mapped from.")
            if cleaned.get("agents"):
                self.add_error("agents", "Mapped agents come from the template: leave this empty.")
        else:
            if not cleaned.get("agents"):
                # Not the agents field's alone: mapping them from the event is the other way.
                self.add_error(None, "Choose the agents to notify, or map them from the event.")
            if cleaned.get("map_value"):
                self.add_error(
                    "map_value", "Only mapped agents come from a template: leave this empty."
                )
        record_id = cleaned.get("record_id")
        if cleaned.get("attach_record") and not record_id:
            self.add_error("record_id", "Give the id of the record to attach.")
        if record_id and not cleaned.get("attach_record"):
            self.add_error("attach_record", "Tick this to attach the record.")
        if record_id and literal(record_id) and self.project is not None:
            try:
                find_project_record(self.project, record_id)
            except RecordError as exc:
                self.add_error("record_id", exc.message)
        return cleaned


def mapped_refs(inputs):
    """The e-mail addresses or ids the mapping template gave, each checked for its kind."""
    refs = crm.clean_names(inputs.get("map_value"))
    if not refs:
        raise ActionError(
            "The agents to notify came out empty (the event has no value for them), so "
            "nobody was notified."
        )
    check_count(refs, "agents")
    by_id = inputs.get("map_by") == BY_ID
    for ref in refs:
        if by_id and not ref.isdigit():
            raise ActionError(f"{ref!r} is not an agent id (a number), so nobody was notified.")
        if not by_id:
            try:
                validate_email(ref)
            except ValidationError:
                raise ActionError(
                    f"{ref!r} is not an e-mail address, so nobody was notified."
                ) from None
    return refs


@register("send_instant_notification")
class SendInstantNotification(TeamboxActionType):
    label = "Send Instant Notification"
    description = "Notify agents in Picky (and in their browser), optionally about a record."
    form_class = SendInstantNotificationForm

    def run(self, ctx, inputs):
        mapped = inputs.get("send_to") == MAPPED
        agents = agents_for(ctx.project, mapped_refs(inputs) if mapped else inputs.get("agents"))
        if not agents:
            raise ActionError("No agent was given, so nobody was notified.")
        title = " ".join(to_text(inputs.get("title")).split())
        if not title:
            raise ActionError("The title came out empty, so nobody was notified.")
        record_id = to_text(inputs.get("record_id")).strip() if inputs.get("attach_record") else ""
        if record_id:
            try:
                record_id = str(find_project_record(ctx.project, record_id).pk)
            except RecordError as exc:
                raise ActionError(f"{exc.message} Nobody was notified.") from exc
        try:
            sent = notifications.notify_agents(
                ctx.project,
                [agent.user for agent in agents],
                title,
                to_text(inputs.get("description")),
                browser=inputs.get("browser") is True,
                contact=ctx.contact,
                record_id=record_id,
            )
        except ValueError as exc:
            raise ActionError(str(exc)) from exc
        return Result(
            outputs={
                "notified": [user_output(agent.user) for agent in agents],
                "notifications": [notification.pk for notification in sent],
                "title": sent[0].title,
                "record_id": record_id,
            }
        )


# get_users -------------------------------------------------------------------------------

SORTS = [
    ("last_seen", "Last seen"),
    ("last_assigned", "Last chat assigned time"),
    ("random", "Random"),
    ("round_robin", "Round robin"),
]


class LevelListField(FlatListField):
    item_noun = "hierarchy levels"

    def validate(self, value):
        super().validate(value)
        wrong = [level for level in value if not level.isdigit() or int(level) < 1]
        if wrong:
            raise ValidationError(
                f"Hierarchy levels are whole numbers from 1: {quoted(wrong)} is not one."
            )


class RoleListField(FlatListField):
    item_noun = "roles"

    def validate(self, value):
        super().validate(value)
        wrong = [role for role in value if role.lower() not in Membership.Role.values]
        if wrong:
            raise ValidationError(
                f"{quoted(wrong)} is not a project role; choose among "
                f"{', '.join(Membership.Role.values)}."
            )

    def clean(self, value):
        return [role.lower() for role in super().clean(value)]


class GetUsersForm(TeamboxForm):
    presence = forms.ChoiceField(
        choices=[(key, key.title()) for key in PRESENCES], required=False, initial="online"
    )
    departments = NameListField(
        required=False,
        widget=PickerInput("departments", multiple=True),
        help_text="Agents of any of these departments.",
    )
    roles = RoleListField(required=False, help_text="Project roles: owner, admin, agent.")
    users = NameListField(
        required=False,
        widget=PickerInput("members", multiple=True),
        help_text="Only these agents (username, e-mail address or user id).",
    )
    levels = LevelListField(required=False, help_text="Hierarchy levels, e.g. 1, 2.")
    sort = forms.ChoiceField(choices=SORTS, required=False, initial="last_assigned")
    order = forms.ChoiceField(
        choices=[("asc", "Ascending"), ("desc", "Descending")], required=False, initial="asc"
    )
    limit = forms.IntegerField(
        required=False, min_value=1, max_value=1000, help_text="Empty: every agent who matches."
    )
    update_last_assigned = forms.BooleanField(
        required=False,
        label="Update last allocated time of the filtered users",
        help_text="As if each had just been given a chat: round robin and last-assigned sorts "
        "then go on past them.",
    )
    save_as = forms.RegexField(
        regex=VARIABLE_NAME,
        max_length=100,
        error_messages={"invalid": "Use letters, digits and _ (not starting with a digit)."},
        help_text="The users are saved as vars.NAME.users (this name), a list of {id, name, "
        "email, departments} an iterator can walk.",
    )
    agent_fields = ("users",)
    department_fields = ("departments",)


@register("get_users")
class GetUsers(TeamboxActionType):
    label = "Get Users"
    description = "List agents by presence, department, role and level, in a chosen order."
    effect = Effect.SHARED_ROW  # the pool's lock and the agents' rows (module docstring)
    form_class = GetUsersForm

    def run(self, ctx, inputs):
        departments = departments_for(ctx.project, inputs.get("departments"))
        agents = agents_for(ctx.project, inputs.get("users"))
        picked = assignment.pick_agents(
            ctx.project,
            departments=departments,
            roles=inputs.get("roles") or (),
            users=[agent.user_id for agent in agents],
            levels=[int(level) for level in inputs.get("levels") or ()],
            presence=PRESENCES[inputs.get("presence") or "online"],
            strategy=inputs.get("sort") or "last_assigned",
            descending=inputs.get("order") == "desc",
            limit=inputs.get("limit"),
            update_last_assigned=inputs.get("update_last_assigned") is True,
        )
        prefetch_related_objects(picked, "user", "departments")
        users = [
            {
                **user_output(agent.user),
                "departments": sorted(department.name for department in agent.departments.all()),
            }
            for agent in picked
        ]
        return Result(outputs={"users": users, "count": len(users)})
