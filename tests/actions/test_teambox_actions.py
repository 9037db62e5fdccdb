"""The teambox actions through a real connector: a webhook comes in through the test client,
the connector runs its steps (Celery in-process), and the chat, timeline and notifications
it leaves are read back from the database. Then their configs: every mistake a field error
on save, naming what is unknown and listing what exists, and hostile documents posted to the
connector import refused at their paths."""

import json

import pytest
from django import forms

from actions.registry import get_type
from connectors.models import Run, RunLog
from connectors.transfer import FORMAT, ConnectorImportError, import_connector
from crm import services as crm
from crm.models import TimelineEntry
from crm.records.services import add_record, find_module
from teambox import assignment, conversations
from teambox.models import Agent, Channel, Conversation, Department, Message, RoutingRule
from tests.api_client import api_client
from tests.builders import build_agent, build_connector

pytestmark = pytest.mark.django_db

MAPPING = {"number": "{{ event.phone }}", "name": "{{ event.name }}"}
LEAD = {"phone": "+91 98470 12345", "name": "Asha", "order": "A-17", "owner": "meera@shop.example"}


@pytest.fixture
def eager_celery():
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def sales(project):
    return Department.objects.create(project=project, name="Sales")


@pytest.fixture
def ravi(project):
    return build_agent(project, "ravi")


@pytest.fixture
def meera(project, sales):
    return build_agent(project, "meera", departments=[sales])


@pytest.fixture
def deliver(client, eager_celery, django_capture_on_commit_callbacks):
    """Post `payload` to a connector built with `steps`: its run, with its action logs."""

    def post(project, steps, payload=LEAD):
        name = f"Flow {Run.objects.count() + 1}"
        connector = build_connector(project, name, steps=steps, field_mapping=MAPPING)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/hooks/{connector.token}", data=payload, content_type="application/json"
            )
        assert response.status_code == 200
        run = Run.objects.get(event_id=response.json()["event"])
        run.actions = list(RunLog.objects.filter(run=run, kind=RunLog.Kind.ACTION).order_by("pk"))
        return run

    return post


def one_step(*actions, **step):
    return [{"name": "Teambox", "actions": list(actions), **step}]


def usernames(users):
    return sorted(user.username for user in users)


def timeline(contact, kind):
    return list(TimelineEntry.objects.filter(contact=contact, kind=kind).order_by("pk"))


def asha(project):
    return crm.find_contact(project, number="919847012345")


class TestAssignChat:
    def test_routing_starts_the_chat_of_a_customer_who_never_wrote_and_assigns_an_agent(
        self, project, sandbox, ravi, deliver
    ):
        config = {
            "channel": "sandbox",
            "internal_message": "Order {{ event.order }} arrived damaged",
            "event_feed": {
                "subject": "Order {{ event.order }}",
                "buttons": [{"name": "Open", "url": "https://shop.example/{{ event.order }}"}],
            },
        }

        run = deliver(project, one_step(("assign_chat", config)))

        assert run.status == Run.Status.SUCCEEDED, run.actions[0].error
        contact = asha(project)
        chat = Conversation.objects.get()
        assert (chat.contact, chat.channel, chat.status) == (contact, sandbox, "open")
        assert usernames(chat.assignees.all()) == ["ravi"]
        assert run.actions[0].outputs == {
            "conversation": chat.pk,
            "channel": "Sandbox",
            "started": True,
            "assignees": [{"id": ravi.user_id, "name": "Ravi", "email": "ravi@shop.example"}],
        }
        [note] = timeline(contact, TimelineEntry.Kind.NOTE)
        assert note.text == "Order A-17 arrived damaged"
        [card] = timeline(contact, TimelineEntry.Kind.EVENT_FEED)
        assert card.data["buttons"] == [
            {"name": "Open", "url": "https://shop.example/A-17", "opens": "new_window"}
        ]
        assert card.data["conversation"] == chat.pk
        assert len(timeline(contact, TimelineEntry.Kind.ASSIGNMENT)) == 1

    def test_chosen_users_and_every_enabled_agent_of_a_department_are_assigned(
        self, project, sandbox, ravi, meera, sales, deliver
    ):
        build_agent(project, "idle", departments=[sales], enabled=False)
        config = {
            "channel": "Sandbox",
            "assign_by": "chosen",
            "users": ["RAVI"],
            "departments": ["sales"],
            "internal_message": "VIP customer",
        }

        run = deliver(project, one_step(("assign_chat", config)))

        assert run.status == Run.Status.SUCCEEDED, run.actions[0].error
        chat = Conversation.objects.get()
        assert usernames(chat.assignees.all()) == ["meera", "ravi"]
        assert chat.department == sales
        [entry] = timeline(asha(project), TimelineEntry.Kind.ASSIGNMENT)
        assert entry.text == "Assigned to Ravi, Meera: VIP customer"

    def test_nobody_online_sends_the_offline_message_only_when_the_box_is_ticked(
        self, project, sandbox, deliver
    ):
        RoutingRule.objects.create(project=project, offline_message="We are away until 9am.")
        build_agent(project, "night", online=False)

        quiet = deliver(project, one_step(("assign_chat", {"channel": "Sandbox"})))
        assert quiet.status == Run.Status.SUCCEEDED
        assert not Message.objects.exists()
        conversations.set_status(Conversation.objects.get(), "resolved")

        told = deliver(
            project,
            one_step(("assign_chat", {"channel": "Sandbox", "send_offline_message": True})),
        )

        assert told.status == Run.Status.SUCCEEDED, told.actions[0].error
        assert told.actions[0].outputs["assignees"] == []
        [message] = Message.objects.all()
        assert (message.body, message.contact) == ("We are away until 9am.", asha(project))

    def test_an_internal_message_too_long_after_templating_fails_with_its_length(
        self, project, sandbox, ravi, deliver
    ):
        config = {"channel": "Sandbox", "internal_message": "Note: {{ event.note }}"}

        run = deliver(project, one_step(("assign_chat", config)), {**LEAD, "note": "x" * 160})

        assert run.status == Run.Status.FAILED
        assert run.actions[0].error == (
            "The internal message has 166 characters; at most 160 are allowed."
        )
        assert not Conversation.objects.exists()

    def test_an_agent_removed_after_the_action_was_saved_fails_the_step_by_name(
        self, project, sandbox, ravi, meera, deliver
    ):
        config = get_type("assign_chat").validate(
            {"channel": "Sandbox", "assign_by": "chosen", "users": ["ravi"]}, project
        )
        ravi.delete()

        run = deliver(project, one_step(("assign_chat", config)))

        assert run.status == Run.Status.FAILED
        assert run.actions[0].error == (
            "No agent of this project is called 'ravi'. Its agents: meera."
        )
        assert not Conversation.objects.exists()

    @pytest.mark.parametrize("gone", ["channel", "department"])
    def test_a_channel_or_department_removed_since_fails_the_step_by_name(
        self, project, sandbox, sales, meera, deliver, gone
    ):
        config = get_type("assign_chat").validate(
            {"channel": "Sandbox", "assign_by": "chosen", "departments": ["Sales"]}, project
        )
        Channel.objects.create(project=project, name="Web", kind=Channel.Kind.SANDBOX)
        Department.objects.create(project=project, name="Support")
        (sandbox if gone == "channel" else sales).delete()

        run = deliver(project, one_step(("assign_chat", config)))

        assert run.status == Run.Status.FAILED
        assert (
            run.actions[0].error
            == {
                "channel": "No channel named 'Sandbox' in this project. Its channels: Web.",
                "department": "No department of this project is called 'Sales'. "
                "Its departments: Support.",
            }[gone]
        )
        assert not Conversation.objects.exists()


class TestAddEventFeed:
    def test_puts_a_card_on_the_timeline_and_assigns_nobody(self, project, sandbox, deliver):
        config = {
            "subject": "Order {{ event.order }} shipped",
            "body": "Courier: BlueDart",
            "media_url": "https://cdn.shop.example/{{ event.order }}.png",
            "buttons": [
                {
                    "name": "Track",
                    "url": "https://track.example/?id={{ event.order }}",
                    "opens": "inline",
                    "background_colour": "#1A7F37",
                    "border_colour": "DarkGreen",
                    "text_colour": "#fff",
                }
            ],
            "background_colour": "ivory",
        }

        run = deliver(project, one_step(("add_event_feed", config)))

        assert run.status == Run.Status.SUCCEEDED, run.actions[0].error
        [card] = timeline(asha(project), TimelineEntry.Kind.EVENT_FEED)
        assert card.text == "Order A-17 shipped\nCourier: BlueDart"
        assert card.data == {
            "subject": "Order A-17 shipped",
            "body": "Courier: BlueDart",
            "media_url": "https://cdn.shop.example/A-17.png",
            "buttons": [
                {
                    "name": "Track",
                    "url": "https://track.example/?id=A-17",
                    "opens": "inline",
                    "background_colour": "#1A7F37",
                    "border_colour": "DarkGreen",
                    "text_colour": "#fff",
                }
            ],
            "background_colour": "ivory",
        }
        assert run.actions[0].outputs["entry"] == card.pk
        assert not Conversation.objects.exists()

    def test_a_button_url_that_renders_to_another_scheme_fails_and_adds_nothing(
        self, project, deliver
    ):
        config = {"subject": "Pay", "buttons": [{"name": "Pay", "url": "{{ event.link }}"}]}

        run = deliver(
            project, one_step(("add_event_feed", config)), {**LEAD, "link": "javascript:alert(1)"}
        )

        assert run.status == Run.Status.FAILED
        assert run.actions[0].error == (
            "The button URL 'javascript:alert(1)' is not a web address (one starting with "
            "https://)."
        )
        assert not TimelineEntry.objects.exists()


class TestKick:
    @pytest.fixture
    def chats(self, project, sandbox, ravi, meera):
        """Asha's chats on two channels, Ravi and Meera on both."""
        contact = crm.upsert_contact(project, "919847012345", name="Asha")
        other = Channel.objects.create(project=project, name="Other", kind=Channel.Kind.SANDBOX)
        found = []
        for channel in (sandbox, other):
            chat, _ = conversations.open_conversation(channel, contact)
            assignment.assign_users(chat, [ravi.user, meera.user])
            found.append(chat)
        return found

    def test_kick_user_removes_the_given_agents_from_the_chat_on_the_channel(
        self, project, chats, ravi, deliver
    ):
        run = deliver(project, one_step(("kick_user", {"channel": "Sandbox", "users": "ravi"})))

        assert run.status == Run.Status.SUCCEEDED, run.actions[0].error
        on_sandbox, on_other = chats
        assert usernames(on_sandbox.assignees.all()) == ["meera"]
        assert usernames(on_other.assignees.all()) == ["meera", "ravi"]
        assert run.actions[0].outputs == {
            "conversations": [on_sandbox.pk],
            "removed": [{"id": ravi.user_id, "name": "Ravi", "email": "ravi@shop.example"}],
        }
        [kick] = timeline(asha(project), TimelineEntry.Kind.KICK)
        assert kick.text == "Removed Ravi from the chat"

    def test_kick_all_users_without_a_channel_empties_every_chat_of_the_contact(
        self, project, chats, deliver
    ):
        run = deliver(project, one_step(("kick_all_users", {})))

        assert run.status == Run.Status.SUCCEEDED, run.actions[0].error
        assert not any(chat.assignees.exists() for chat in chats)
        assert run.actions[0].outputs["conversations"] == [chat.pk for chat in chats]
        assert len(timeline(asha(project), TimelineEntry.Kind.KICK)) == 2


class TestSendInstantNotification:
    def test_notifies_the_chosen_agents_about_the_contact_and_a_record(
        self, project, ravi, meera, deliver
    ):
        deal = add_record(find_module(project, "Deals"), {"title": "Solar roof"})
        config = {
            "agents": ["ravi", str(meera.user_id)],
            "title": "New order {{ event.order }}",
            "description": "From {{ contact.name }}",
            "browser": True,
            "attach_record": True,
            "record_id": "{{ event.deal }}",
        }

        run = deliver(
            project, one_step(("send_instant_notification", config)), {**LEAD, "deal": deal.pk}
        )

        assert run.status == Run.Status.SUCCEEDED, run.actions[0].error
        for agent in (ravi, meera):
            [notification] = agent.user.notifications.all()
            assert (notification.title, notification.description) == ("New order A-17", "From Asha")
            assert (notification.browser, notification.record_id) == (True, str(deal.pk))
            assert notification.contact == asha(project)
            assert notification.read_at is None

    def test_a_record_the_project_does_not_have_notifies_nobody(
        self, project, other_project, ravi, deliver
    ):
        elsewhere = add_record(find_module(other_project, "Deals"), {"title": "Not ours"})
        config = {"agents": ["ravi"], "title": "Order", "attach_record": True}

        for record_id, shown in (("A-17", "A-17"), (str(elsewhere.pk), str(elsewhere.pk))):
            config["record_id"] = record_id
            run = deliver(project, one_step(("send_instant_notification", config)))

            assert run.status == Run.Status.FAILED
            assert run.actions[0].error == (
                f"This project has no record {shown}. Nobody was notified."
            )
        assert not ravi.user.notifications.exists()
        assert refused(
            "send_instant_notification",
            {**config, "record_id": str(elsewhere.pk)},
            project,
        ) == {"record_id": [f"This project has no record {elsewhere.pk}."]}

    @pytest.mark.parametrize(
        ("map_by", "value"), [("email", "{{ event.owner }}"), ("id", "{{ event.owner_id }}")]
    )
    def test_maps_the_agent_from_the_event(self, project, ravi, meera, deliver, map_by, value):
        config = {"send_to": "mapped", "map_by": map_by, "map_value": value, "title": "Yours"}
        payload = {**LEAD, "owner_id": meera.user_id}

        run = deliver(project, one_step(("send_instant_notification", config)), payload)

        assert run.status == Run.Status.SUCCEEDED, run.actions[0].error
        assert meera.user.notifications.count() == 1
        assert not ravi.user.notifications.exists()

    def test_a_template_giving_too_many_agents_fails_the_step(self, project, ravi, deliver):
        config = {"send_to": "mapped", "map_value": "{{ event.owners }}", "title": "Yours"}
        owners = [f"agent{number}@shop.example" for number in range(51)]

        run = deliver(project, one_step(("send_instant_notification", config)), {"owners": owners})

        assert run.actions[0].error == "The event gave 51 agents; one action takes 50 at most."
        assert not ravi.user.notifications.exists()

    def test_a_mapped_agent_the_project_lacks_fails_the_step_by_name(self, project, ravi, deliver):
        config = {"send_to": "mapped", "map_value": "{{ event.owner }}", "title": "Yours"}

        run = deliver(project, one_step(("send_instant_notification", config)))

        assert run.status == Run.Status.FAILED
        assert run.actions[0].error == (
            "No agent of this project is called 'meera@shop.example'. Its agents: ravi."
        )


class TestGetUsers:
    def test_lists_the_agents_for_an_iterator_and_updates_their_last_assigned_time(
        self, project, ravi, meera, sales, deliver
    ):
        build_agent(project, "away", departments=[sales], online=False)
        lister = {
            "presence": "online",
            "departments": ["Sales", "{{ event.team }}"],
            "sort": "round_robin",
            "update_last_assigned": True,
            "save_as": "team",
        }
        notify = {
            "send_to": "mapped",
            "map_by": "id",
            "map_value": "{{ item.id }}",
            "title": "Hello {{ item.name }} of {{ join(', ', item.departments) }}",
        }
        steps = [
            {"name": "List", "actions": [("get_users", lister)]},
            {
                "name": "Each",
                "iterator": {"path": "vars.team.users"},
                "actions": [("send_instant_notification", notify)],
            },
        ]
        ravi.departments.add(Department.objects.create(project=project, name="Support"))

        run = deliver(project, steps, {**LEAD, "team": "support"})

        assert run.status == Run.Status.SUCCEEDED, [log.error for log in run.actions]
        assert run.actions[0].outputs == {
            "users": [
                {
                    "id": ravi.user_id,
                    "name": "Ravi",
                    "email": "ravi@shop.example",
                    "departments": ["Support"],
                },
                {
                    "id": meera.user_id,
                    "name": "Meera",
                    "email": "meera@shop.example",
                    "departments": ["Sales"],
                },
            ],
            "count": 2,
        }
        assert ravi.user.notifications.get().title == "Hello Ravi of Support"
        assert meera.user.notifications.get().title == "Hello Meera of Sales"
        assert Agent.objects.filter(last_assigned_at__isnull=False).count() == 2

    def test_limit_and_order(self, project, ravi, meera, deliver):
        lister = {"presence": "both", "sort": "round_robin", "order": "desc", "limit": 1}

        run = deliver(project, one_step(("get_users", {**lister, "save_as": "team"})))

        assert [user["name"] for user in run.actions[0].outputs["users"]] == ["Meera"]
        assert not Agent.objects.filter(last_assigned_at__isnull=False).exists()


def refused(key, config, project):
    """The field errors of `config` saved in `project`."""
    with pytest.raises(forms.ValidationError) as caught:
        get_type(key).validate(config, project)
    return caught.value.message_dict


class TestConfigErrors:
    def test_unknown_agents_departments_and_channels_are_named_with_the_project_s(
        self, project, sandbox, ravi, sales
    ):
        errors = refused(
            "assign_chat",
            {
                "channel": "Telegram",
                "assign_by": "chosen",
                "users": ["ravi", "ghost", "nobody@shop.example"],
                "departments": ["Billing"],
            },
            project,
        )

        assert errors == {
            "channel": ["No channel named 'Telegram' in this project. Its channels: Sandbox."],
            "users": [
                "'ghost' and 'nobody@shop.example' are not agents of this project. "
                "Its agents: ravi."
            ],
            "departments": [
                "No department of this project is called 'Billing'. Its departments: Sales."
            ],
        }
        assert refused("get_users", {"users": ["ghost"], "save_as": "t"}, project) == {
            "users": ["No agent of this project is called 'ghost'. Its agents: ravi."]
        }

    def test_a_project_without_agents_says_where_to_add_them(self, project):
        assert refused("kick_user", {"users": ["ravi"]}, project) == {
            "users": [
                "No agent of this project is called 'ravi'. It has no agents yet: add them "
                "under Teambox → Agents."
            ]
        }

    def test_an_internal_message_over_160_characters_is_refused_with_its_length(self, project):
        errors = refused(
            "assign_chat", {"channel": "x", "internal_message": "y" * 161 + "{{ event.z }}"}, None
        )

        assert errors == {
            "internal_message": [
                "The internal message has 161 characters; at most 160 are allowed."
            ]
        }
        assert get_type("assign_chat").validate(
            {"channel": "x", "internal_message": "y" * 160 + "{{ event.z }}"}
        )

    @pytest.mark.parametrize(
        ("button", "message"),
        [
            (
                {"name": "Run", "url": "javascript:alert(1)"},
                "The button URL 'javascript:alert(1)' is not a web address (one starting with "
                "https://).",
            ),
            (
                {"name": "Run", "url": "data:{{ event.x }}"},
                "The button URL 'data:{{ event.x }}' is not a web address (one starting with "
                "https://).",
            ),
            (
                {"name": "Open", "url": "https://a.example", "opens": "popup"},
                "Button 1 opens 'popup': choose 'inline' (in a sandboxed frame beside the chat) "
                "or 'new_window'.",
            ),
            (
                {"name": "Open", "url": "https://a.example", "text_colour": "blurple"},
                "Button 1: 'blurple' is not a colour: give #rgb, #rrggbb (e.g. #1a7f37) or a CSS "
                "colour name (e.g. teal).",
            ),
            (
                {"url": "https://a.example", "target": "_top"},
                "Button 1 has settings a button does not take (target); it takes name, url, "
                "opens, background_colour, border_colour, text_colour.",
            ),
        ],
    )
    def test_bad_buttons_are_refused(self, button, message):
        errors = refused("add_event_feed", {"subject": "Hi", "buttons": [button]}, None)

        assert message in errors["buttons"]

    def test_colours_and_the_media_url_are_checked(self):
        errors = refused(
            "add_event_feed",
            {"subject": "Hi", "border_colour": "#12345", "media_url": "ftp://files.example/a"},
            None,
        )

        assert errors == {
            "border_colour": [
                "'#12345' is not a colour: give #rgb, #rrggbb (e.g. #1a7f37) or a CSS colour "
                "name (e.g. teal)."
            ],
            "media_url": [
                "The media URL 'ftp://files.example/a' is not a web address (one starting with "
                "https://)."
            ],
        }

    def test_assign_chat_s_event_feed_is_checked_as_add_event_feed_is(self):
        errors = refused(
            "assign_chat",
            {"channel": "x", "event_feed": {"body": "no subject", "colour": "red"}},
            None,
        )

        assert errors == {
            "event_feed": [
                "The event feed does not take colour; it takes subject, body, media_url, "
                "buttons, background_colour, border_colour, text_colour."
            ]
        }
        assert refused("assign_chat", {"channel": "x", "event_feed": {"body": "b"}}, None) == {
            "event_feed": ["subject: This field is required."]
        }

    def test_the_choices_of_each_logic_go_together(self):
        assert refused("assign_chat", {"channel": "x", "users": ["ravi"]}, None) == {
            "users": [
                "The default routing rules choose the agents: choose “Assign to the users and "
                "departments chosen below”, or leave this empty."
            ]
        }
        assert refused(
            "assign_chat",
            {"channel": "x", "assign_by": "chosen", "send_offline_message": True},
            None,
        ) == {
            "users": ["Choose the users or departments to assign the chat to."],
            "send_offline_message": [
                "Only the default routing rules send the offline message: untick it, or choose "
                "the default routing rules."
            ],
        }
        assert refused(
            "send_instant_notification",
            {"send_to": "mapped", "title": "t", "record_id": "7"},
            None,
        ) == {
            "map_value": ["Give the template the agents are mapped from."],
            "attach_record": ["Tick this to attach the record."],
        }

    def test_get_users_filters_are_checked(self):
        errors = refused(
            "get_users",
            {"roles": ["boss"], "levels": "1, 0", "limit": 0, "presence": "busy"},
            None,
        )

        assert errors == {
            "roles": ["'boss' is not a project role; choose among owner, admin, agent."],
            "levels": ["Hierarchy levels are whole numbers from 1: '0' is not one."],
            "limit": ["Ensure this value is greater than or equal to 1."],
            "presence": ["Select a valid choice. busy is not one of the available choices."],
            "save_as": ["This field is required."],
        }


HOSTILE_CONFIGS = [
    ("assign_chat", {"channel": ["Sandbox"], "users": {"$ne": 1}, "event_feed": [1, 2]}),
    ("assign_chat", {"channel": "Sandbox", "event_feed": {"subject": {"a": 1}, "buttons": "x"}}),
    ("assign_chat", {"channel": "Sandbox", "internal_message": "<script>" * 40}),
    ("add_event_feed", {"subject": "Hi", "buttons": [{"name": "x", "url": "https://a"}] * 50}),
    ("add_event_feed", {"subject": "{{ event.", "buttons": [None, 7, "https://a.example"]}),
    ("add_event_feed", {"subject": "Hi", "background_colour": {"r": 1}, "media_url": 5}),
    ("kick_user", {"users": [[["deep"]]] * 60, "channel": "Sandbox\u0000"}),
    ("send_instant_notification", {"send_to": "everyone", "title": "", "record_id": "r" * 500}),
    ("get_users", {"limit": "all", "levels": [{"x": 1}], "sort": "DROP TABLE", "save_as": "1x"}),
]


class TestHostileImports:
    @pytest.mark.parametrize(("key", "config"), HOSTILE_CONFIGS)
    def test_the_import_refuses_them_at_their_paths(self, project, sandbox, key, config):
        document = {
            "format": FORMAT,
            "name": "Hostile",
            "steps": [{"name": "Only", "actions": [{"type": key, "config": config}]}],
        }

        with pytest.raises(ConnectorImportError) as caught:
            import_connector(project, document)

        paths = {path for path, _ in caught.value.errors}
        assert paths and all(path.startswith("steps[0].actions[0].config") for path in paths)

    def test_the_api_answers_400_with_the_errors_and_saves_nothing(self, project, sandbox):
        client = api_client(project)
        for key, config in HOSTILE_CONFIGS:
            document = {
                "format": FORMAT,
                "name": f"Hostile {key}",
                "steps": [{"name": "Only", "actions": [{"type": key, "config": config}]}],
            }

            response = client.post(
                "/api/v1/connectors/import", json.dumps(document), content_type="application/json"
            )

            assert response.status_code == 400, (key, response.content)
            # At the setting's path (a NUL is refused before the types see the config).
            assert "steps[0].actions[0].config" in response.content.decode(), key
        assert not project.connectors.exists()
