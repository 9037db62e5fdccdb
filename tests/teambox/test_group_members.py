"""teambox.group_members against the WAHA gateway stand-in: the services the WhatsApp
groups actions call."""

import pytest

from actions.pickers import names_for
from teambox import group_members as groups
from teambox.models import Channel, GroupParticipant, WhatsAppGroup
from tests.waha_gateway import GROUP_LIMIT, WahaGateway


@pytest.fixture
def gateway(httpserver, local_outbound):
    return WahaGateway(httpserver)


@pytest.fixture
def waha(project, httpserver, gateway):
    return Channel.objects.create(
        project=project,
        name="Community",
        kind=Channel.Kind.WHATSAPP_WEB,
        credentials={"base_url": httpserver.url_for("/"), "api_key": "waha-secret-key"},
    )


def full_group(channel, gateway, subject):
    numbers = [f"9180000{n:05d}" for n in range(GROUP_LIMIT)]
    group = WhatsAppGroup.objects.create(
        channel=channel, gateway_id=gateway.add_group(subject, numbers), subject=subject
    )
    GroupParticipant.objects.bulk_create(GroupParticipant(group=group, number=n) for n in numbers)
    return group


def test_a_child_of_a_long_name_keeps_its_number_within_100_characters(waha, gateway):
    long_name = "A" * 100
    parent = full_group(waha, gateway, long_name)
    [outcome] = groups.add_group_members(parent, ["919700000000"])
    child = WhatsAppGroup.objects.get(parent=parent)
    assert child.subject == "A" * 98 + " 1" and outcome.group == child.subject
    assert gateway.groups[child.gateway_id]["subject"] == child.subject


def test_the_child_group_number_follows_the_highest_even_after_a_gap(waha, gateway):
    parent = full_group(waha, gateway, "Tips")
    WhatsAppGroup.objects.create(
        channel=waha, gateway_id="3@g.us", subject="Tips 3", parent=parent, position=3
    )
    GroupParticipant.objects.bulk_create(
        GroupParticipant(group_id=parent.children.get().pk, number=f"9170000{n:05d}")
        for n in range(GROUP_LIMIT)
    )
    groups.add_group_members(parent, ["919700000000"])
    assert list(parent.children.values_list("subject", flat=True)) == ["Tips 3", "Tips 4"]


def test_the_gateway_saying_full_moves_the_number_on(waha, gateway):
    """Synced rows that undercount (members who joined since) are corrected by WhatsApp's
    "group is full" answer: the number goes to a child group."""
    parent = full_group(waha, gateway, "Tips")
    GroupParticipant.objects.filter(group=parent).first().delete()
    [outcome] = groups.add_group_members(parent, ["919700000000"])
    assert (outcome.status, outcome.group) == ("added", "Tips 1")


def test_the_groups_picker_offers_parent_groups_of_the_project(project, other_project, waha):
    parent = WhatsAppGroup.objects.create(channel=waha, gateway_id="1@g.us", subject="Tips")
    WhatsAppGroup.objects.create(
        channel=waha, gateway_id="2@g.us", subject="Tips 1", parent=parent, position=1
    )
    elsewhere = Channel.objects.create(project=other_project, name="X", kind="whatsapp_web")
    WhatsAppGroup.objects.create(channel=elsewhere, gateway_id="3@g.us", subject="Tips VIP")
    assert names_for("groups", project, "tip") == ["Tips"]


def test_a_child_made_for_a_number_who_refuses_invites_takes_the_next_one(waha, gateway):
    parent = full_group(waha, gateway, "Tips")
    gateway.blocked.add("919700000000")
    refused, added = groups.add_group_members(parent, ["919700000000", "919700000001"])
    child = WhatsAppGroup.objects.get(parent=parent)
    assert (refused.status, refused.group, refused.reason) == (
        "failed",
        "Tips 1",
        groups.NOT_ADDED_ON_CREATION,
    )
    assert (added.status, added.group) == ("added", "Tips 1")
    assert gateway.members(child.gateway_id) == {"919700000001"}
    assert list(child.participants.values_list("number", flat=True)) == ["919700000001"]


def test_a_member_who_joined_since_the_sync_is_already_one(waha, gateway):
    tips = WhatsAppGroup.objects.create(
        channel=waha, gateway_id=gateway.add_group("Tips", ["919700000000"]), subject="Tips"
    )
    [outcome] = groups.add_group_members(tips, ["919700000000"])
    assert (outcome.status, outcome.failed) == ("already_member", False)
    assert list(tips.participants.values_list("number", flat=True)) == ["919700000000"]
