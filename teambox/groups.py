"""WhatsApp groups of WhatsApp Web channels: synced from the gateway, kept current by its
group.v2.participants webhooks.

`sync_groups(channel)` reads the number's groups and their members from the gateway;
`apply_participants_changes(channel, changes)` applies the joins, leaves, promotions and
demotions a webhook carries and sends `group_members_changed` for joins and leaves after
the commit.
"""

from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone

from .channels import ChannelError, adapter_for
from .models import Channel, GroupParticipant, WhatsAppGroup
from .signals import group_members_changed

SIGNALLED_ACTIONS = {"join": "joined", "leave": "left"}


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    removed: int = 0


def sync_groups(channel):
    """Bring `channel`'s groups from its gateway: new groups are added, the others' subject,
    description, who-can-send setting and members updated, and groups the number is no
    longer in removed. Returns SyncResult; raises ChannelError with the gateway's reason."""
    if channel.kind != Channel.Kind.WHATSAPP_WEB:
        raise ChannelError(f"The channel {channel.name!r} is not a WhatsApp Web channel.")
    adapter = adapter_for(channel)
    found = adapter.list_groups()
    for group in found:
        if group.participants is None:
            group.participants = adapter.list_participants(group.gateway_id)
    now = timezone.now()
    result = SyncResult()
    with transaction.atomic():
        existing = {g.gateway_id: g for g in WhatsAppGroup.objects.filter(channel=channel)}
        for item in found:
            row = existing.pop(item.gateway_id, None)
            values = {
                "subject": item.subject,
                "description": item.description,
                "only_admins_post": item.only_admins_post,
                "synced_at": now,
            }
            if row is None:
                row = WhatsAppGroup.objects.create(
                    channel=channel, gateway_id=item.gateway_id, **values
                )
                result.created += 1
            else:
                WhatsAppGroup.objects.filter(pk=row.pk).update(**values)
                result.updated += 1
            replace_participants(row, item.participants)
        result.removed = len(existing)
        WhatsAppGroup.objects.filter(pk__in=[g.pk for g in existing.values()]).delete()
    return result


def replace_participants(group, participants):
    """Make `group`'s GroupParticipant rows exactly `participants` (GatewayParticipants)."""
    wanted = {p.number: p.is_admin for p in participants}
    current = {p.number: p for p in group.participants.all()}
    GroupParticipant.objects.filter(
        group=group, number__in=[n for n in current if n not in wanted]
    ).delete()
    for number, is_admin in wanted.items():
        row = current.get(number)
        if row is None:
            continue
        if row.is_admin != is_admin:
            GroupParticipant.objects.filter(pk=row.pk).update(is_admin=is_admin)
    GroupParticipant.objects.bulk_create(
        [
            GroupParticipant(group=group, number=number, is_admin=is_admin)
            for number, is_admin in wanted.items()
            if number not in current
        ]
    )


def apply_participants_changes(channel, changes):
    """Apply ParticipantsChanges of a webhook to the synced groups, in the caller's
    transaction; changes of groups Picky has not synced are skipped. Returns how many were
    applied. Joins and leaves send `group_members_changed` after the commit."""
    applied = 0
    for change in changes:
        group = (
            WhatsAppGroup.objects.select_for_update()
            .filter(channel=channel, gateway_id=change.group_id)
            .first()
        )
        if group is None or not change.numbers:
            continue
        if change.action == "join":
            GroupParticipant.objects.bulk_create(
                [GroupParticipant(group=group, number=number) for number in change.numbers],
                ignore_conflicts=True,
            )
        elif change.action == "leave":
            group.participants.filter(number__in=change.numbers).delete()
        else:
            group.participants.filter(number__in=change.numbers).update(
                is_admin=change.action == "promote"
            )
        applied += 1
        if change.action in SIGNALLED_ACTIONS:
            transaction.on_commit(
                partial(
                    group_members_changed.send,
                    sender=WhatsAppGroup,
                    group=group,
                    numbers=list(change.numbers),
                    action=SIGNALLED_ACTIONS[change.action],
                ),
                robust=True,
            )
    return applied
