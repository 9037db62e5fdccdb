"""The sequence admin: building a sequence with its messages in order, refusing a message
without content at its field, the figures of each step and the subscribers, per project."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from crm import services as crm
from journeys.sequences import services as sequences
from journeys.sequences.models import Sequence, SequenceMessage
from journeys.sequences.sweep import sweep_due_deliveries
from teambox.models import Message

pytestmark = pytest.mark.django_db

ADD = "/admin/journeys/sequence/add/"


def message_form(index, position, **fields):
    values = {
        "kind": "text",
        "timing": "after",
        "text": "",
        "media_url": "",
        "template": "",
        "template_language": "en",
        "template_params": "",
        "delay_amount": "0",
        "delay_unit": "days",
        "day": "",
        "send_time": "",
        "position": str(position),
        **fields,
    }
    return {f"messages-{index}-{name}": value for name, value in values.items()}


def sequence_form(project, channel, *messages):
    data = {
        "project": str(project.pk),
        "name": "Welcome",
        "channel": str(channel.pk),
        "enabled": "on",
        "stop_keywords": "STOP, UNSUBSCRIBE",
        "optout_list": "",
        "messages-TOTAL_FORMS": str(len(messages)),
        "messages-INITIAL_FORMS": "0",
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "1000",
    }
    for message in messages:
        data.update(message)
    return data


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def test_a_sequence_is_built_with_its_messages_in_order(member_client, project, sandbox):
    data = sequence_form(
        project,
        sandbox,
        message_form(0, 2, text="Second", delay_amount="1", weekdays=["0", "4"]),
        message_form(
            1,
            1,
            kind="template",
            template="welcome_offer",
            template_params="{{ contact.name }}\n10%",
            timing="on_day",
            day="0",
            send_time="18:30",
        ),
    )
    response = member_client.post(ADD, data)
    assert response.status_code == 302, response.context["adminform"].form.errors or [
        form.errors for formset in response.context["inline_admin_formsets"] for form in formset
    ]
    sequence = Sequence.objects.get()
    first, second = sequence.messages.order_by("position")
    assert first.template == "welcome_offer"
    assert first.template_params == ["{{ contact.name }}", "10%"]
    assert (first.day, first.send_time.strftime("%H:%M")) == (0, "18:30")
    assert (second.text, second.weekdays) == ("Second", [0, 4])


def test_a_message_without_content_is_refused_at_its_field(member_client, project, sandbox):
    data = sequence_form(project, sandbox, message_form(0, 1, text="  "))
    response = member_client.post(ADD, data)
    assert response.status_code == 200
    (formset,) = response.context["inline_admin_formsets"]
    assert formset.formset.errors[0] == {"text": ["A text message needs its text."]}
    assert not Sequence.objects.exists()


def test_the_page_shows_each_steps_figures_and_the_subscribers(member_client, project, sandbox):
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=sandbox)
    SequenceMessage.objects.create(sequence=sequence, position=0, text="Hi <b>there</b>")
    SequenceMessage.objects.create(sequence=sequence, position=1, text="Later", delay_amount=2)
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    ravi = crm.upsert_contact(project, "919847000002", name="Ravi")
    crm.set_blacklisted(ravi, True)
    now = timezone.now()
    with time_machine.travel(now - timedelta(minutes=5), tick=False):
        sequences.subscribe(sequence, asha)
        sequences.subscribe(sequence, ravi)
    sweep_due_deliveries()
    Message.objects.filter(direction="out").update(status="read")

    page = member_client.get(f"/admin/journeys/sequence/{sequence.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Hi &lt;b&gt;there&lt;/b&gt;" in html and "<b>there</b>" not in html
    assert "right after subscribing" in html and "2 days after subscribing" in html
    # Step 1: one sent (delivered and read), one skipped; step 2: two pending.
    assert (
        "<td>0</td><td>1</td><td>1</td><td>1</td><td>0</td><td>1</td>" in html
        and "<td>2</td><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td>" in html
    )
    assert "Active: 2" in html

    subscription = sequence.subscriptions.get(contact=ravi)
    page = member_client.get(f"/admin/journeys/subscription/{subscription.pk}/change/")
    assert "The contact is blacklisted." in page.content.decode()


def test_another_projects_sequences_are_not_shown(member_client, other_project):
    channel = other_project.channels.create(name="Theirs", kind="sandbox")
    theirs = Sequence.objects.create(project=other_project, name="Secret plan", channel=channel)
    listing = member_client.get("/admin/journeys/sequence/")
    assert "Secret plan" not in listing.content.decode()
    assert member_client.get(f"/admin/journeys/sequence/{theirs.pk}/change/").status_code in (
        302,
        404,
    )
