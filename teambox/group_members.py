"""What automation does with WhatsApp groups: send to a group and its child groups, add and
remove members, create groups.

A group that is full (GROUP_LIMIT members) continues in child groups "<subject> 1",
"<subject> 2", ... with its description and who-can-send setting (not its admins); a member
added to a full family goes to the first child with room, or to a new child. Adding locks
the family's parent row (select_for_update) for the whole change, gateway calls included,
so that two runs adding at once neither overfill a group nor create the same child twice.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from crm import services as crm

from .channels import ChannelError, adapter_for
from .channels.whatsapp_web import PARTICIPANT_REASONS, ParticipantOutcome
from .models import Channel, GroupParticipant, WhatsAppGroup
from .services import MessagingError, channel_named, queue_message

GROUP_LIMIT = 256
GROUP_FULL = PARTICIPANT_REASONS["500"]
ALREADY_IN = PARTICIPANT_REASONS["409"]
NOT_ADDED_ON_CREATION = (
    "WhatsApp created the group without them (their privacy settings may not allow being "
    "added to groups: send an invite link)"
)


class GroupError(Exception):
    """A group change cannot be made as asked; the message says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class MemberOutcome:
    """What became of one number in one group family: `status` is "added", "removed",
    "already_member", "not_member" or "failed" (then `reason`, WhatsApp's or the gateway's).
    `group`: the subject of the group of the family it concerns."""

    number: str
    group: str
    status: str
    reason: str = ""

    @property
    def failed(self):
        return self.status == "failed"

    def as_dict(self):
        return {k: v for k, v in vars(self).items() if v != ""}


def group_channel(project, name):
    """The project's enabled WhatsApp Web channel called `name`."""
    try:
        channel = channel_named(project, name)
    except MessagingError as exc:
        raise GroupError(exc.message) from exc
    if channel.kind != Channel.Kind.WHATSAPP_WEB:
        raise GroupError(
            f"The channel {channel.name!r} is not a WhatsApp Web channel: WhatsApp groups "
            "are handled through a WhatsApp Web (WAHA gateway) channel."
        )
    return channel


def find_group(channel, name):
    """The channel's group called `name` (a parent group's subject, whatever its case, or
    any group's gateway id "…@g.us"), else None."""
    name = str(name or "").strip()
    if not name:
        return None
    groups = WhatsAppGroup.objects.filter(channel=channel)
    if name.endswith("@g.us"):
        return groups.filter(gateway_id=name).first()
    return groups.filter(subject__iexact=name, parent__isnull=True).order_by("pk").first()


def unknown_group_message(channel, name):
    names = list(
        WhatsAppGroup.objects.filter(channel=channel, parent__isnull=True)
        .order_by("subject")
        .values_list("subject", flat=True)[:20]
    )
    if not names:
        return (
            f"No WhatsApp group named {name!r} on {channel.name!r}, which has no synced group: "
            "sync its groups (Teambox → WhatsApp groups) or create one."
        )
    return f"No WhatsApp group named {name!r} on {channel.name!r}. Its groups: {', '.join(names)}."


def group_named(channel, name):
    group = find_group(channel, name)
    if group is None:
        raise GroupError(unknown_group_message(channel, name))
    return group


def family_of(group):
    """The group's parent (itself when it has none) and its children, by position."""
    root = group.parent or group
    children = list(root.children.order_by("position", "pk"))
    return [root, *children]


# Sending --------------------------------------------------------------------------------


def send_to_group(group, *, text="", media_url="", idempotency_key=None):
    """Queue the message to the group and each of its child groups; returns the Messages.
    With `idempotency_key`, a second call returns the first call's messages."""
    messages = []
    for member_group in family_of(group):
        key = f"{idempotency_key}:g{member_group.pk}"[:200] if idempotency_key else None
        try:
            messages.append(
                queue_message(
                    member_group.channel,
                    None,
                    address=member_group.gateway_id,
                    body=text,
                    media_url=media_url,
                    idempotency_key=key,
                )
            )
        except MessagingError as exc:
            raise GroupError(exc.message) from exc
    return messages


# Members --------------------------------------------------------------------------------


def clean_numbers(numbers):
    """(numbers normalised and de-duplicated, [MemberOutcome-like dicts] of those that are
    not numbers)."""
    cleaned, invalid = [], []
    for raw in crm.clean_names(numbers):
        try:
            number = crm.clean_number(raw)
        except crm.ContactError as exc:
            invalid.append({"number": raw, "reason": str(exc)})
            continue
        if number not in cleaned:
            cleaned.append(number)
    return cleaned, invalid


def add_group_members(group, numbers, *, as_admin=False):
    """Add `numbers` (normalised) to the group's family: each goes to the first group of
    the family with room, a new child group when all are full. Returns a MemberOutcome per
    number; a gateway's refusal of one number does not stop the others."""
    with transaction.atomic():
        root = WhatsAppGroup.objects.select_for_update().get(pk=(group.parent_id or group.pk))
        adapter = adapter_for(root.channel)
        family = family_of(root)
        present = dict(
            GroupParticipant.objects.filter(group__in=family).values_list("number", "group_id")
        )
        subjects = {g.pk: g.subject for g in family}
        outcomes = {}
        pending = []
        for number in numbers:
            if number in present:
                outcomes[number] = MemberOutcome(
                    number, subjects[present[number]], "already_member"
                )
            else:
                pending.append(number)
        sizes = dict(
            WhatsAppGroup.objects.filter(pk__in=[g.pk for g in family])
            .annotate(size=Count("participants"))
            .values_list("pk", "size")
        )
        full = set()
        while pending:
            target = next(
                (g for g in family if g.pk not in full and sizes.get(g.pk, 0) < GROUP_LIMIT), None
            )
            if target is None:
                number = pending.pop(0)
                position = max((g.position or 0 for g in family[1:]), default=0) + 1
                try:
                    target, left_out, problems = create_child_group(root, adapter, position, number)
                except ChannelError as exc:
                    outcomes[number] = MemberOutcome(number, root.subject, "failed", exc.message)
                    continue
                family.append(target)
                sizes[target.pk] = target.participants.count()
                if left_out:
                    outcomes[number] = MemberOutcome(
                        number, target.subject, "failed", NOT_ADDED_ON_CREATION
                    )
                    continue
                if problems:
                    reason = f"added to the new group, but {'; '.join(problems)}"
                    outcomes[number] = MemberOutcome(number, target.subject, "failed", reason)
                else:
                    outcomes[number] = MemberOutcome(number, target.subject, "added")
                if as_admin:
                    promote(adapter, target, [number], outcomes)
                continue
            room = GROUP_LIMIT - sizes.get(target.pk, 0)
            chunk, pending = pending[:room], pending[room:]
            try:
                results = adapter.add_participants(target.gateway_id, chunk)
            except ChannelError as exc:
                for number in chunk:
                    outcomes[number] = MemberOutcome(number, target.subject, "failed", exc.message)
                continue
            added, already = [], []
            for result in results:
                if result.ok:
                    added.append(result.number)
                    outcomes[result.number] = MemberOutcome(result.number, target.subject, "added")
                elif result.reason == GROUP_FULL:
                    # Fuller than the synced rows said: the next group of the family.
                    full.add(target.pk)
                    pending.append(result.number)
                elif result.reason == ALREADY_IN:
                    # Joined since the last sync: a member all the same.
                    already.append(result.number)
                    outcomes[result.number] = MemberOutcome(
                        result.number, target.subject, "already_member"
                    )
                else:
                    outcomes[result.number] = MemberOutcome(
                        result.number, target.subject, "failed", result.reason
                    )
            GroupParticipant.objects.bulk_create(
                [GroupParticipant(group=target, number=number) for number in added + already],
                ignore_conflicts=True,
            )
            sizes[target.pk] = sizes.get(target.pk, 0) + len(added) + len(already)
            if as_admin and added:
                promote(adapter, target, added, outcomes)
    return [outcomes[number] for number in numbers]


def promote(adapter, group, numbers, outcomes):
    """Make `numbers`, just added to `group`, its admins; a refusal fails their outcome."""
    try:
        results = adapter.promote_admins(group.gateway_id, numbers)
    except ChannelError as exc:
        results = [ParticipantOutcome(number, False, exc.message) for number in numbers]
    promoted = [result.number for result in results if result.ok]
    for result in results:
        if not result.ok:
            outcomes[result.number] = MemberOutcome(
                result.number,
                group.subject,
                "failed",
                f"added as a member but not made an admin: {result.reason}",
            )
    GroupParticipant.objects.filter(group=group, number__in=promoted).update(is_admin=True)


def create_child_group(root, adapter, position, first_number):
    """A new child group "<subject> <position>" of `root` with its settings (not its
    admins) and `first_number` as its first member: new_group's answer."""
    subject = f"{root.subject[: 100 - len(str(position)) - 1]} {position}"
    return new_group(
        root.channel,
        adapter,
        subject,
        [first_number],
        description=root.description,
        only_admins_post=root.only_admins_post,
        parent=root,
        position=position,
    )


def new_group(channel, adapter, subject, numbers, *, description, only_admins_post, **fields):
    """Create the group at the gateway, save its row with the members the gateway reports
    (WhatsApp leaves out those whose privacy settings refuse group invites), then apply
    its settings. Returns (the WhatsAppGroup, the numbers left out, the gateway's refusals
    of its settings): the group exists once the gateway created it, whatever follows."""
    gateway_id = adapter.create_group(subject, numbers)
    group = WhatsAppGroup.objects.create(
        channel=channel,
        gateway_id=gateway_id,
        subject=subject,
        description=description,
        only_admins_post=only_admins_post,
        synced_at=timezone.now(),
        **fields,
    )
    try:
        members = {p.number: p.is_admin for p in adapter.list_participants(gateway_id)}
    except ChannelError:
        # Created all the same: its members are then the ones asked for.
        members = dict.fromkeys(numbers, False)
    GroupParticipant.objects.bulk_create(
        [GroupParticipant(group=group, number=n, is_admin=admin) for n, admin in members.items()]
    )
    problems = []
    try:
        if description:
            adapter.set_description(gateway_id, description)
        if only_admins_post:
            adapter.set_admins_only(gateway_id, True)
    except ChannelError as exc:
        problems.append(exc.message)
    return group, [number for number in numbers if number not in members], problems


def remove_group_members(group, numbers):
    """Remove `numbers` (normalised) from the group and its child groups, wherever the
    synced members say they are. Returns a MemberOutcome per number."""
    with transaction.atomic():
        root = WhatsAppGroup.objects.select_for_update().get(pk=(group.parent_id or group.pk))
        adapter = adapter_for(root.channel)
        family = family_of(root)
        where = {}
        for number, group_id in GroupParticipant.objects.filter(
            group__in=family, number__in=numbers
        ).values_list("number", "group_id"):
            where.setdefault(group_id, []).append(number)
        outcomes = {number: MemberOutcome(number, root.subject, "not_member") for number in numbers}
        for member_group in family:
            chunk = where.get(member_group.pk)
            if not chunk:
                continue
            try:
                results = adapter.remove_participants(member_group.gateway_id, chunk)
            except ChannelError as exc:
                for number in chunk:
                    outcomes[number] = MemberOutcome(
                        number, member_group.subject, "failed", exc.message
                    )
                continue
            removed = []
            for result in results:
                if result.ok:
                    removed.append(result.number)
                    status, reason = "removed", ""
                else:
                    status, reason = "failed", result.reason
                outcomes[result.number] = MemberOutcome(
                    result.number, member_group.subject, status, reason
                )
            GroupParticipant.objects.filter(group=member_group, number__in=removed).delete()
    return [outcomes[number] for number in numbers]


def create_group(
    channel, subject, *, members=(), admins=(), description="", only_admins_post=False
):
    """Create a group on the channel's number with `members` and `admins` (normalised
    numbers) and its settings. Returns (the WhatsAppGroup, [MemberOutcome of the numbers
    WhatsApp left out or would not make admins], [the gateway's refusals of its settings])."""
    subject = str(subject or "").strip()
    if not subject:
        raise GroupError("Give the group a name.")
    if len(subject) > 100:
        raise GroupError(
            f"A WhatsApp group's name has at most 100 characters; {subject!r} is longer."
        )
    numbers = list(dict.fromkeys([*members, *admins]))
    if not numbers:
        raise GroupError("WhatsApp needs at least one member to create a group.")
    adapter = adapter_for(channel)
    with transaction.atomic():
        try:
            group, left_out, problems = new_group(
                channel,
                adapter,
                subject,
                numbers,
                description=description,
                only_admins_post=only_admins_post,
            )
        except ChannelError as exc:
            raise GroupError(exc.message) from exc
        outcomes = {
            number: MemberOutcome(number, subject, "failed", NOT_ADDED_ON_CREATION)
            for number in left_out
        }
        admitted = [number for number in dict.fromkeys(admins) if number not in outcomes]
        if admitted:
            promote(adapter, group, admitted, outcomes)
    return group, list(outcomes.values()), problems


def group_subjects(project, term=""):
    """Subjects of the project's parent groups containing `term` (what a picker offers)."""
    groups = WhatsAppGroup.objects.filter(channel__project=project, parent__isnull=True)
    if term:
        groups = groups.filter(subject__icontains=term)
    return list(groups.order_by("subject").values_list("subject", flat=True).distinct()[:50])
