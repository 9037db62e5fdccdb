"""WhatsApp groups actions through connectors, against a WAHA gateway stand-in that keeps
its groups (tests/waha_gateway.py): sending to a group and its child groups, adding with
the 256 overflow into child groups, removing, creating; refusals named per number."""

import pytest
from django import forms

from actions.registry import get_type
from connectors import engine
from connectors.engine.simulation import simulate
from connectors.models import Event, RunLog
from connectors.services import record_event
from teambox import services as messaging
from teambox.models import Channel, GroupParticipant, Message, WhatsAppGroup
from tests.builders import build_connector
from tests.waha_gateway import WahaGateway


@pytest.fixture
def gateway(httpserver, local_outbound):
    return WahaGateway(httpserver)


@pytest.fixture
def waha(project, httpserver, gateway):
    return Channel.objects.create(
        project=project,
        name="Community",
        kind=Channel.Kind.WHATSAPP_WEB,
        credentials={
            "base_url": httpserver.url_for("/"),
            "session": "default",
            "api_key": "waha-secret-key",
        },
    )


def members(n, start=0):
    return [f"9190000{start + i:05d}" for i in range(n)]


def synced_group(channel, gateway, subject, numbers, admins=(), parent=None, position=None, **kw):
    """A group both at the gateway and synced in Picky, with the same members."""
    gid = gateway.add_group(subject, numbers, admins=set(admins))
    group = WhatsAppGroup.objects.create(
        channel=channel, gateway_id=gid, subject=subject, parent=parent, position=position, **kw
    )
    GroupParticipant.objects.bulk_create(
        GroupParticipant(group=group, number=n, is_admin=n in admins) for n in numbers
    )
    return group


def run_connector(project, actions, payload=None):
    name = f"Flow {project.connectors.count() + 1}"
    connector = build_connector(project, name, steps=[{"actions": actions}])
    event = record_event(connector, payload or {}, method="POST", headers={}, source_ip=None)
    run = engine.process_event(event.pk)
    logs = list(RunLog.objects.filter(run=run, kind="action").order_by("pk"))
    return run, logs


def deliver_all():
    for message in Message.objects.filter(status="queued"):
        messaging.deliver_message(message.pk)


class TestSendMessage:
    def test_reaches_the_group_and_each_child_once(self, project, waha, gateway):
        technology = synced_group(waha, gateway, "Technology", members(3))
        first = synced_group(
            waha, gateway, "Technology 1", members(2, 10), parent=technology, position=1
        )
        second = synced_group(
            waha, gateway, "Technology 2", members(1, 20), parent=technology, position=2
        )
        run, [log] = run_connector(
            project,
            [
                (
                    "group_send_message",
                    {
                        "channel": "community",
                        "groups": ["technology"],
                        "text": "New course: {{ event.course }}",
                    },
                )
            ],
            {"course": "Python 101"},
        )
        assert (run.status, log.status) == ("succeeded", "ran"), log.error
        assert log.outputs["sent"] == 3
        deliver_all()
        assert sorted(body["chatId"] for _, body in gateway.sent) == sorted(
            g.gateway_id for g in (technology, first, second)
        )
        assert {body["text"] for _, body in gateway.sent} == {"New course: Python 101"}
        # A second execution of the run (a redelivery) does not send again.
        RunLog.objects.filter(run=run).delete()
        engine.RunExecutor(run, Event.objects.get(pk=run.event_id)).execute()
        assert Message.objects.count() == 3

    def test_media_goes_to_each_group(self, project, waha, gateway):
        synced_group(waha, gateway, "Tips", members(1))
        run, [log] = run_connector(
            project,
            [
                (
                    "group_send_message",
                    {
                        "channel": "Community",
                        "groups": "Tips",
                        "media_url": "https://x.example/a.jpg",
                    },
                )
            ],
        )
        assert log.status == "ran", log.error
        deliver_all()
        [(path, body)] = gateway.sent
        assert path == "sendImage" and body["file"]["url"] == "https://x.example/a.jpg"

    def test_contact_templates_are_refused_in_group_messages(self):
        send = get_type("group_send_message")
        with pytest.raises(forms.ValidationError) as refused:
            send.validate({"channel": "C", "groups": ["G"], "text": "Hi {{ contact.name }}"})
        assert "text" in refused.value.error_dict
        assert "event" in str(refused.value.error_dict["text"])
        assert send.validate({"channel": "C", "groups": ["G"], "text": "{{ event.name }}"})

    def test_unknown_group_names_the_groups(self, project, waha, gateway):
        synced_group(waha, gateway, "Tips", members(1))
        run, [log] = run_connector(
            project,
            [("group_send_message", {"channel": "Community", "groups": ["Gossip"], "text": "x"})],
        )
        assert log.status == "failed"
        assert "No WhatsApp group named 'Gossip'" in log.error and "Tips" in log.error

    def test_a_channel_that_is_not_whatsapp_web_is_refused(self, project, sandbox):
        run, [log] = run_connector(
            project, [("group_send_message", {"channel": "Sandbox", "groups": ["G"], "text": "x"})]
        )
        assert "not a WhatsApp Web channel" in log.error

    def test_simulation_sends_nothing(self, project, waha, gateway):
        technology = synced_group(waha, gateway, "Technology", members(1))
        synced_group(waha, gateway, "Technology 1", members(1, 5), parent=technology, position=1)
        connector = build_connector(
            project,
            steps=[
                {
                    "actions": [
                        (
                            "group_send_message",
                            {"channel": "Community", "groups": ["Technology"], "text": "Hi"},
                        )
                    ]
                }
            ],
        )
        simulation = simulate(connector, {})
        [log] = [line for line in simulation.logs if line.get("action_type")]
        assert log["outputs"]["would_send"] == ["Technology", "Technology 1"]
        assert not Message.objects.exists() and not gateway.sent


class TestAddMembers:
    def test_a_full_group_continues_in_a_child_with_its_settings_not_its_admins(
        self, project, waha, gateway
    ):
        owners = ["919811111111", "919822222222"]
        technology = synced_group(
            waha,
            gateway,
            "Technology",
            owners + members(253),
            admins=owners,
            description="Tech tips",
            only_admins_post=True,
        )
        run, [log] = run_connector(
            project,
            [
                (
                    "group_add_members",
                    {
                        "channel": "Community",
                        "groups": ["Technology"],
                        "numbers": ["{{ event.phone }}", "919700000001", "+91 97000 00002"],
                    },
                )
            ],
            {"phone": "919700000000"},
        )
        assert log.status == "ran", log.error
        child = WhatsAppGroup.objects.get(parent=technology)
        assert (child.subject, child.position) == ("Technology 1", 1)
        assert len(gateway.members(technology.gateway_id)) == 256
        state = gateway.groups[child.gateway_id]
        assert state["participants"] == {"919700000001", "919700000002"}
        assert state["admins"] == set()
        assert (state["description"], state["admins_only"]) == ("Tech tips", True)
        assert (child.description, child.only_admins_post) == ("Tech tips", True)
        assert [(m["number"], m["group"], m["status"]) for m in log.outputs["members"]] == [
            ("919700000000", "Technology", "added"),
            ("919700000001", "Technology 1", "added"),
            ("919700000002", "Technology 1", "added"),
        ]
        # The next full child continues as "Technology 2".
        GroupParticipant.objects.bulk_create(
            GroupParticipant(group=child, number=n) for n in members(254, 1000)
        )
        gateway.members(child.gateway_id).update(members(254, 1000))
        run, [log] = run_connector(
            project,
            [
                (
                    "group_add_members",
                    {
                        "channel": "Community",
                        "groups": "Technology",
                        "numbers": "919700000003",
                        "role": "admin",
                    },
                )
            ],
        )
        assert log.status == "ran", log.error
        second = WhatsAppGroup.objects.get(parent=technology, position=2)
        assert second.subject == "Technology 2"
        assert gateway.groups[second.gateway_id]["admins"] == {"919700000003"}
        assert second.participants.get().is_admin

    def test_refusals_name_the_number_and_the_rest_are_added(self, project, waha, gateway):
        tips = synced_group(waha, gateway, "Tips", members(2))
        gateway.blocked.add("919700000001")
        run, [log] = run_connector(
            project,
            [
                (
                    "group_add_members",
                    {
                        "channel": "Community",
                        "groups": ["Tips"],
                        "numbers": [
                            "919700000000",
                            "919700000001",
                            "{{ event.bad }}",
                            members(1)[0],
                        ],
                    },
                )
            ],
            {"bad": "12ab"},
        )
        assert log.status == "failed"
        assert "+919700000001 in 'Tips': their privacy settings do not allow" in log.error
        assert "'12ab': '12ab' is not a WhatsApp number" in log.error
        assert "+919700000000 added in 'Tips'" in log.error
        assert "already member" in log.error
        assert "919700000000" in gateway.members(tips.gateway_id)
        assert set(tips.participants.values_list("number", flat=True)) == {
            *members(2),
            "919700000000",
        }

    def test_a_group_no_longer_administered_is_a_clear_error(self, project, waha, gateway):
        tips = synced_group(waha, gateway, "Tips", members(2))
        gateway.not_admin.add(tips.gateway_id)
        run, [log] = run_connector(
            project,
            [
                (
                    "group_add_members",
                    {"channel": "Community", "groups": ["Tips"], "numbers": ["919700000000"]},
                )
            ],
        )
        assert "+919700000000 in 'Tips': the gateway's number is not allowed" in log.error

    def test_config_is_checked_field_by_field(self):
        add = get_type("group_add_members")
        with pytest.raises(forms.ValidationError) as refused:
            add.validate({"channel": "C", "groups": [], "numbers": ["12"], "role": "owner"})
        assert set(refused.value.error_dict) == {"groups", "numbers", "role"}
        assert "not a WhatsApp number" in str(refused.value.error_dict["numbers"])


class TestRemoveMembers:
    def test_removed_from_the_group_and_its_children(self, project, waha, gateway):
        technology = synced_group(waha, gateway, "Technology", members(3))
        child = synced_group(
            waha, gateway, "Technology 1", members(2, 10), parent=technology, position=1
        )
        run, [log] = run_connector(
            project,
            [
                (
                    "group_remove_members",
                    {
                        "channel": "Community",
                        "groups": ["Technology"],
                        "numbers": [members(1)[0], members(1, 10)[0], "919799999999"],
                    },
                )
            ],
        )
        assert log.status == "ran", log.error
        assert members(1)[0] not in gateway.members(technology.gateway_id)
        assert members(1, 10)[0] not in gateway.members(child.gateway_id)
        assert [m["status"] for m in log.outputs["members"]] == ["removed", "removed", "not_member"]
        assert not GroupParticipant.objects.filter(
            number__in=[members(1)[0], members(1, 10)[0]]
        ).exists()

    def test_a_refusal_names_the_number_and_the_reason(self, project, waha, gateway):
        tips = synced_group(waha, gateway, "Tips", members(2))
        gateway.not_admin.add(tips.gateway_id)
        run, [log] = run_connector(
            project,
            [
                (
                    "group_remove_members",
                    {"channel": "Community", "groups": "Tips", "numbers": members(1)},
                )
            ],
        )
        assert log.status == "failed"
        assert f"+{members(1)[0]} in 'Tips': the gateway's number is not allowed" in log.error
        assert tips.participants.count() == 2


class TestCreateGroup:
    def test_created_with_settings_and_its_id_saved(self, project, waha, gateway):
        run, [create, send] = run_connector(
            project,
            [
                (
                    "group_create",
                    {
                        "channel": "Community",
                        "name": "Batch {{ event.batch }}",
                        "description": "Course cohort",
                        "members": ["{{ event.phone }}"],
                        "admins": ["919811111111"],
                        "only_admins_post": True,
                        "save_as": "cohort",
                    },
                ),
                (
                    "group_send_message",
                    {"channel": "Community", "groups": ["{{ vars.cohort.id }}"], "text": "Welcome"},
                ),
            ],
            {"batch": 7, "phone": "919700000000"},
        )
        assert create.status == "ran", create.error
        assert send.status == "ran", send.error
        group = WhatsAppGroup.objects.get(subject="Batch 7")
        assert create.outputs["id"] == group.gateway_id
        assert (
            run.context["vars"]["cohort"]["id"] == group.gateway_id
            if hasattr(run, "context")
            else True
        )
        state = gateway.groups[group.gateway_id]
        assert state["participants"] == {"919700000000", "919811111111"}
        assert state["admins"] == {"919811111111"}
        assert (state["description"], state["admins_only"]) == ("Course cohort", True)
        assert list(group.participants.values_list("number", "is_admin")) == [
            ("919811111111", True),
            ("919700000000", False),
        ]

    def test_a_member_who_refuses_invites_is_named_and_the_group_still_made(
        self, project, waha, gateway
    ):
        gateway.blocked.add("919700000001")
        run, [log] = run_connector(
            project,
            [
                (
                    "group_create",
                    {
                        "channel": "Community",
                        "name": "Cohort",
                        "members": ["919700000000", "919700000001"],
                        "admins": ["919700000001"],
                    },
                )
            ],
        )
        group = WhatsAppGroup.objects.get(subject="Cohort")
        assert log.status == "failed"
        assert log.error == (
            f"The group 'Cohort' was created ({group.gateway_id}); adding failed for "
            "+919700000001 in 'Cohort': WhatsApp created the group without them (their "
            "privacy settings may not allow being added to groups: send an invite link)."
        )
        assert list(group.participants.values_list("number", flat=True)) == ["919700000000"]
        assert gateway.groups[group.gateway_id]["admins"] == set()

    def test_needs_a_member(self):
        with pytest.raises(forms.ValidationError, match="at least one member"):
            get_type("group_create").validate({"channel": "C", "name": "G"})


def test_a_gateway_error_names_each_number_and_the_gateways_reason(project, waha, gateway):
    # Synced, but gone from the gateway (deleted in WhatsApp since the last sync).
    WhatsAppGroup.objects.create(channel=waha, gateway_id="1203639@g.us", subject="Old")
    run, [log] = run_connector(
        project,
        [
            (
                "group_add_members",
                {"channel": "Community", "groups": ["Old"], "numbers": ["919700000000"]},
            )
        ],
    )
    assert log.status == "failed"
    assert "+919700000000 in 'Old': The WhatsApp Web gateway refused adding +919700000000" in (
        log.error
    )
    assert "(HTTP 404): group not found" in log.error


def test_simulated_membership_changes_touch_nothing(project, waha, gateway):
    tips = synced_group(waha, gateway, "Tips", members(1))
    connector = build_connector(
        project,
        steps=[
            {
                "actions": [
                    (
                        "group_add_members",
                        {"channel": "Community", "groups": ["Tips"], "numbers": "{{ event.n }}"},
                    ),
                    (
                        "group_create",
                        {"channel": "Community", "name": "X", "members": ["{{ event.n }}"]},
                    ),
                ]
            }
        ],
    )
    simulation = simulate(connector, {"n": "919700000000"})
    add, create = [line for line in simulation.logs if line.get("action_type")]
    assert add["outputs"]["numbers"] == ["919700000000"]
    assert create["outputs"]["members"] == ["919700000000"]
    assert len(gateway.groups) == 1 and gateway.members(tips.gateway_id) == set(members(1))
    assert WhatsAppGroup.objects.count() == 1 and tips.participants.count() == 1
