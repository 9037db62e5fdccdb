"""The messaging faults a new user hits (issue 17): a lead without a phone number skips its
message with a warning instead of stopping the run, and the team's own numbers (a project
member's, an internal notification's) never become contacts."""

import pytest
from django.core.exceptions import ValidationError

from connectors import engine
from connectors.engine import RunExecutor
from connectors.models import Event, Run, RunLog
from connectors.transfer import FORMAT, import_connector
from crm.models import Contact
from picky.models import Membership
from teambox.models import Message

REP = "919800000099"
THANK_YOU = {
    "type": "send_message",
    "name": "Thank the lead",
    "config": {"channel": "Sandbox", "to": ["{{ contact.number }}"], "text": "Thanks!"},
}
ALERT_THE_REP = {
    "type": "send_message",
    "name": "Alert the rep",
    "config": {"channel": "Sandbox", "to": [REP], "text": "New lead: {{ event.name }}"},
}


@pytest.fixture
def rep(member):
    """The project member whose number the alert goes to."""
    Membership.objects.filter(user=member).update(phone=REP)
    return member


def lead_connector(project, *actions):
    return import_connector(
        project,
        {
            "format": FORMAT,
            "name": "Website leads",
            "field_mapping": {
                "number": "{{ event.phone }}",
                "name": "{{ event.name }}",
                "email": "{{ event.email }}",
            },
            "steps": [{"name": "New lead", "actions": list(actions)}],
        },
    )


def post_lead(client, connector, payload):
    """The webhook in, then the run its event gets."""
    response = client.post(connector.path, payload, content_type="application/json")
    assert response.status_code == 200, response.content
    return engine.process_event(int(response.json()["event"]))


def action_lines(run):
    return list(
        RunLog.objects.filter(run=run, kind=RunLog.Kind.ACTION)
        .order_by("action_position")
        .values_list("status", "error")
    )


def test_a_lead_without_a_phone_skips_its_message_and_the_rep_is_still_alerted(
    client, project, sandbox, rep
):
    connector = lead_connector(project, THANK_YOU, ALERT_THE_REP)

    run = post_lead(client, connector, {"name": "Asha", "email": "asha@shop.example"})

    assert run.status == Run.Status.SUCCEEDED
    assert action_lines(run) == [
        (
            "skipped",
            'This lead has no phone number, so the message "Thank the lead" was not sent.',
        ),
        ("ran", ""),
    ]
    alert = Message.objects.get()
    assert (alert.address, alert.body, alert.contact) == (REP, "New lead: Asha", None)
    # The rep's number made no contact: the lead is the project's only one.
    assert list(Contact.objects.values_list("email", "number")) == [("asha@shop.example", "")]

    client.force_login(rep)
    page = client.get(f"/admin/connectors/run/{run.pk}/change/").content.decode()
    assert "This lead has no phone number, so the message &quot;Thank the lead&quot;" in page
    assert "picky-line-skipped" in page


def test_the_action_can_fail_the_run_instead(client, project, sandbox, rep):
    strict = {**THANK_YOU, "config": {**THANK_YOU["config"], "if_no_recipient": "fail"}}
    connector = lead_connector(project, strict, ALERT_THE_REP)

    run = post_lead(client, connector, {"name": "Asha", "email": "asha@shop.example"})

    assert run.status == Run.Status.FAILED
    assert action_lines(run) == [
        (
            "failed",
            'This lead has no phone number, so the message "Thank the lead" was not sent.',
        )
    ]
    assert not Message.objects.exists()


def test_an_email_to_a_lead_without_an_address_is_skipped(client, project, sandbox, mailoutbox):
    mail = {
        "type": "send_email",
        "config": {"to": ["{{ contact.email }}"], "subject": "Thanks", "body": "Hello"},
    }
    connector = lead_connector(project, mail, {**THANK_YOU, "name": ""})

    run = post_lead(client, connector, {"name": "Asha", "phone": "+91 98470 12345"})

    assert run.status == Run.Status.SUCCEEDED
    assert action_lines(run) == [
        ("skipped", 'This lead has no e-mail address, so the e-mail "Send Email" was not sent.'),
        ("ran", ""),
    ]
    assert mailoutbox == []
    assert Message.objects.get().address == "919847012345"


def test_an_internal_notification_makes_no_contact(client, project, sandbox):
    manager = "919800000055"
    internal = {
        "type": "send_message",
        "config": {"channel": "Sandbox", "to": manager, "text": "Lead!", "internal": True},
    }
    connector = lead_connector(project, internal)

    run = post_lead(client, connector, {"name": "Asha", "phone": "919847012345"})

    assert run.status == Run.Status.SUCCEEDED
    message = Message.objects.get()
    assert (message.address, message.contact) == (manager, None)
    assert not Contact.objects.filter(number=manager).exists()


def test_a_run_taken_up_again_does_not_skip_the_message_twice(client, project, sandbox):
    connector = lead_connector(project, THANK_YOU)
    run = post_lead(client, connector, {"name": "Asha", "email": "asha@shop.example"})
    # A second execution of the same run (a worker redelivery).
    Run.objects.filter(pk=run.pk).update(attempts=2, status=Run.Status.RUNNING)
    run.refresh_from_db()

    RunExecutor(run, Event.objects.get(pk=run.event_id)).execute()

    assert [status for status, _ in action_lines(run)] == ["skipped"]


class TestMemberPhone:
    def test_is_stored_as_digits_with_the_country_code(self, project, member):
        membership = Membership.objects.get(user=member)
        membership.phone = "+91 98000-00099"
        membership.full_clean()
        assert membership.phone == REP

    def test_refuses_what_is_no_number(self, project, member):
        membership = Membership.objects.get(user=member)
        membership.phone = "12"
        with pytest.raises(ValidationError) as refused:
            membership.full_clean()
        assert refused.value.message_dict == {
            "phone": ["Enter the number with its country code: 7 to 15 digits."]
        }

    def test_is_edited_in_the_projects_members(self, client, project, member):
        client.force_login(member)
        page = client.get(f"/admin/picky/project/{project.pk}/change/").content.decode()
        assert 'name="memberships-0-phone"' in page
