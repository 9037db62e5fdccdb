"""WhatsApp groups actions: group_send_message, group_add_members, group_remove_members,
group_create. They work through a WhatsApp Web (WAHA gateway) channel; a group is named
by its subject (a parent group) or its gateway id, and reaches its child groups too."""

import re

from django import forms
from django.core.exceptions import ValidationError

from crm import services as crm
from picky.templating import HOLE, render_deep
from teambox import group_members as groups

from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result, not_sent
from ..pickers import picker
from ..registry import register
from .notification import checked_media_url, effect_key
from .teambox import ChannelField, FlatListField

CATEGORY = "WhatsApp groups"
MAX_GROUPS = 20
MAX_NUMBERS = 100
# Namespaces a group message cannot read: a group has no contact, and the docs promise
# the event's values only.
NOT_IN_GROUPS = re.compile(
    r"(?<![\w.\"])(contact|vars|meta|item|index|counters|globals|now|storage)\b"
)


@picker("groups")
def group_names(project, term):
    return groups.group_subjects(project, term)


class GroupListField(FlatListField):
    item_noun = "groups"
    picker = "groups"

    def validate(self, value):
        super().validate(value)
        if len(value) > MAX_GROUPS:
            raise ValidationError(f"At most {MAX_GROUPS} groups; {len(value)} given.")


class NumberListField(FlatListField):
    """Numbers with country code (or templates giving them)."""

    item_noun = "numbers"

    def validate(self, value):
        super().validate(value)
        if len(value) > MAX_NUMBERS:
            raise ValidationError(f"At most {MAX_NUMBERS} numbers; {len(value)} given.")
        for item in value:
            if "{{" in item:
                continue
            try:
                crm.clean_number(item)
            except crm.ContactError as exc:
                raise ValidationError(str(exc)) from exc


def channel_field():
    return ChannelField(max_length=100, help_text="Name of a WhatsApp Web channel of this project.")


def groups_field():
    return GroupListField(
        help_text="Group names (or gateway ids …@g.us); each reaches its child groups too.",
    )


def numbers_field(required=True, help_text="Numbers with country code; templates allowed."):
    return NumberListField(required=required, help_text=help_text)


class GroupsForm(ActionConfigForm):
    channel = channel_field()
    groups = groups_field()


class GroupSendMessageForm(GroupsForm):
    text = forms.CharField(
        required=False,
        widget=forms.Textarea,
        help_text="The message; templates read the event only ({{ event.… }}): a group has "
        "no contact.",
    )
    media_url = forms.CharField(
        required=False, max_length=1000, help_text="Optional image, video or document URL."
    )

    def clean(self):
        cleaned = super().clean()
        for name in ("text", "media_url"):
            for hole in HOLE.finditer(cleaned.get(name) or ""):
                found = NOT_IN_GROUPS.search(hole.group(1))
                if found:
                    self.add_error(
                        name,
                        f"{hole.group(0)} reads {found.group(1)}, which group messages do not "
                        "have: use the event's values ({{ event.… }}).",
                    )
        if not (cleaned.get("text") or cleaned.get("media_url")):
            raise ValidationError("Give a text or a media URL.")
        return cleaned


class MembersForm(GroupsForm):
    numbers = numbers_field()


class AddMembersForm(MembersForm):
    role = forms.ChoiceField(
        choices=[("member", "Member"), ("admin", "Admin")],
        required=False,
        help_text="Add them as members (default) or as admins.",
    )


class CreateGroupForm(ActionConfigForm):
    channel = channel_field()
    name = forms.CharField(max_length=200, help_text="The group's name; templates allowed.")
    description = forms.CharField(required=False, widget=forms.Textarea)
    members = numbers_field(required=False, help_text="Numbers added as members.")
    admins = numbers_field(required=False, help_text="Numbers added and made admins.")
    only_admins_post = forms.BooleanField(
        required=False, label="Only admins can post", help_text="Members can read, not send."
    )

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("members") or cleaned.get("admins")):
            raise ValidationError("Give at least one member or admin: WhatsApp needs one.")
        return cleaned


def channel_of(ctx, inputs):
    try:
        return groups.group_channel(ctx.project, inputs.get("channel"))
    except groups.GroupError as exc:
        raise ActionError(exc.message) from exc


def named_groups(channel, inputs):
    names = crm.clean_names(inputs.get("groups"))
    if not names:
        raise ActionError("No group to act on: the group names came out empty.")
    found = []
    for name in names:
        group = groups.find_group(channel, name)
        if group is None:
            raise ActionError(groups.unknown_group_message(channel, name))
        if group not in found:
            found.append(group)
    return found


def numbers_of(inputs, key="numbers"):
    """(normalised numbers, [{"number", "reason"}] of values that are not numbers)."""
    return groups.clean_numbers(inputs.get(key))


def outcome_error(label, outcomes, invalid):
    """An ActionError naming every number that failed and why, and what the others became;
    None when none failed."""
    failed = [o for o in outcomes if o.failed]
    if not failed and not invalid:
        return None
    parts = [f"+{o.number} in {o.group!r}: {o.reason}" for o in failed]
    parts += [f"{item['number']!r}: {item['reason']}" for item in invalid]
    done = [o for o in outcomes if not o.failed]
    summary = f"{label} failed for " + "; ".join(parts) + "."
    if done:
        summary += (
            " The others: "
            + "; ".join(f"+{o.number} {o.status.replace('_', ' ')} in {o.group!r}" for o in done)
            + "."
        )
    return ActionError(summary)


class GroupMembersType(ActionType):
    category = CATEGORY
    effect = Effect.OUTSIDE
    doing = ""

    def change(self, group, numbers, inputs):
        raise NotImplementedError

    def run(self, ctx, inputs):
        channel = channel_of(ctx, inputs)
        targets = named_groups(channel, inputs)
        numbers, invalid = numbers_of(inputs)
        if not numbers and not invalid:
            raise ActionError("No number to act on: the numbers came out empty.")
        outcomes = []
        for group in targets:
            if numbers:
                outcomes += self.change(group, numbers, inputs)
        if (error := outcome_error(self.label, outcomes, invalid)) is not None:
            raise error
        return Result(
            outputs={
                "channel": channel.name,
                "groups": [g.subject for g in targets],
                "members": [o.as_dict() for o in outcomes],
            }
        )

    def dry_run(self, ctx, inputs):
        channel = channel_of(ctx, inputs)
        targets = named_groups(channel, inputs)
        numbers, invalid = numbers_of(inputs)
        return not_sent(
            {
                "simulated": True,
                "channel": channel.name,
                "groups": [g.subject for g in targets],
                "numbers": numbers,
                "invalid": invalid,
            },
            channel=channel.name,
            groups=[g.subject for g in targets],
            **{self.doing: numbers},
        )


@register("group_add_members")
class GroupAddMembers(GroupMembersType):
    label = "Add Group Members"
    description = (
        "Add numbers to WhatsApp groups as members or admins; a full group (256) continues "
        "in a child group created for it."
    )
    form_class = AddMembersForm
    doing = "add"

    def change(self, group, numbers, inputs):
        return groups.add_group_members(group, numbers, as_admin=inputs.get("role") == "admin")


@register("group_remove_members")
class GroupRemoveMembers(GroupMembersType):
    label = "Remove Group Members"
    description = "Remove numbers from WhatsApp groups and their child groups."
    form_class = MembersForm
    doing = "remove"

    def change(self, group, numbers, inputs):
        return groups.remove_group_members(group, numbers)


@register("group_send_message")
class GroupSendMessage(ActionType):
    label = "Send Group Message"
    category = CATEGORY
    description = "Send a message to WhatsApp groups and each of their child groups."
    effect = Effect.OUTSIDE
    effect_is_idempotent = True  # its messages' idempotency keys (effect_key)
    form_class = GroupSendMessageForm
    # Rendered with the event only (render below).
    event_only = ("text", "media_url")

    def render(self, ctx, config):
        rendered = super().render(
            ctx, {k: v for k, v in config.items() if k not in self.event_only}
        )
        event = {"event": ctx.data.get("event")}
        for key in self.event_only:
            if key in config:
                rendered[key] = render_deep(config[key], event)
        return rendered

    def content(self, inputs):
        text = str(inputs.get("text") or "")
        media_url = checked_media_url(inputs)
        if not (text.strip() or media_url):
            raise ActionError("The group message came out empty: nothing was sent.")
        return text, media_url

    def run(self, ctx, inputs):
        channel = channel_of(ctx, inputs)
        targets = named_groups(channel, inputs)
        text, media_url = self.content(inputs)
        sent = []
        try:
            for group in targets:
                for message in groups.send_to_group(
                    group,
                    text=text,
                    media_url=media_url,
                    idempotency_key=effect_key(ctx, f"group{group.pk}"),
                ):
                    sent.append(
                        {"group": message.address, "message": message.pk, "status": message.status}
                    )
        except groups.GroupError as exc:
            raise ActionError(exc.message) from exc
        return Result(outputs={"channel": channel.name, "sent": len(sent), "messages": sent})

    def dry_run(self, ctx, inputs):
        channel = channel_of(ctx, inputs)
        targets = named_groups(channel, inputs)
        text, media_url = self.content(inputs)
        reached = [g.subject for group in targets for g in groups.family_of(group)]
        return not_sent(
            {"simulated": True, "channel": channel.name, "would_send": reached},
            channel=channel.name,
            to=reached,
            text=text,
            **({"media_url": media_url} if media_url else {}),
        )


@register("group_create")
class GroupCreate(ActionType):
    label = "Create Group"
    category = CATEGORY
    description = "Create a WhatsApp group with members, admins and its settings."
    effect = Effect.OUTSIDE
    form_class = CreateGroupForm

    def plan(self, ctx, inputs):
        channel = channel_of(ctx, inputs)
        members, invalid = numbers_of(inputs, "members")
        admins, invalid_admins = numbers_of(inputs, "admins")
        invalid += invalid_admins
        if invalid:
            raise ActionError(
                "The group was not created: "
                + "; ".join(f"{item['number']!r}: {item['reason']}" for item in invalid)
            )
        name = " ".join(str(inputs.get("name") or "").split())
        return channel, name, members, admins

    def run(self, ctx, inputs):
        channel, name, members, admins = self.plan(ctx, inputs)
        try:
            group, refused, problems = groups.create_group(
                channel,
                name,
                members=members,
                admins=admins,
                description=str(inputs.get("description") or ""),
                only_admins_post=inputs.get("only_admins_post") is True,
            )
        except groups.GroupError as exc:
            raise ActionError(exc.message) from exc
        created = f"The group {name!r} was created ({group.gateway_id})"
        error = outcome_error(f"{created}; adding", refused, [])
        if problems or error:
            settings = f"{created}, but {'; '.join(problems)}." if problems else ""
            raise ActionError(" ".join(filter(None, [settings, error.message if error else ""])))
        return Result(
            outputs={
                "id": group.gateway_id,
                "name": group.subject,
                "members": list(dict.fromkeys([*members, *admins])),
                "admins": admins,
            }
        )

    def dry_run(self, ctx, inputs):
        channel, name, members, admins = self.plan(ctx, inputs)
        return not_sent(
            {"simulated": True, "id": "", "name": name, "members": members, "admins": admins},
            channel=channel.name,
            name=name,
            description=str(inputs.get("description") or ""),
            members=members,
            admins=admins,
            only_admins_post=inputs.get("only_admins_post") is True,
        )
