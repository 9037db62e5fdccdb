"""Sequences: planning deliveries, the sweep that sends them through the sandbox channel
(and an official one), and the ways a subscription ends, with a movable clock."""

import json
import threading
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import services as crm
from crm.models import TimelineEntry
from journeys.sequences import services as sequences
from journeys.sequences.models import Delivery, Sequence, SequenceMessage, Subscription
from journeys.sequences.sweep import settle_due_batch, sweep_due_deliveries
from journeys.sequences.timing import due_time
from teambox.models import Conversation, Message

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)  # Monday 10:00 in Asia/Kolkata


def add_step(sequence, position, **fields):
    step = SequenceMessage(sequence=sequence, position=position, **fields)
    step.full_clean()
    step.save()
    return step


@pytest.fixture
def welcome(project, sandbox):
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=sandbox)
    add_step(sequence, 0, text="Hi {{ contact.name }}!", delay_amount=0, delay_unit="minutes")
    add_step(sequence, 1, text="Day one tips", delay_amount=1, delay_unit="days")
    add_step(sequence, 2, text="Last one", timing="on_day", day=2, send_time=time(18, 0))
    return sequence


@pytest.fixture
def asha(project):
    return crm.upsert_contact(project, "919847012345", name="Asha")


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return sweep_due_deliveries()


def statuses(subscription):
    return [
        (delivery.message.text, delivery.status, delivery.reason)
        for delivery in subscription.deliveries.select_related("message").order_by(
            "due_at", "message__position"
        )
    ]


def test_each_step_is_sent_once_when_due_and_the_subscription_then_finishes(welcome, asha):
    with time_machine.travel(START, tick=False):
        subscription, planned = sequences.subscribe(welcome, asha)
    assert planned
    assert [d.due_at for d in subscription.deliveries.order_by("due_at")] == [
        START,
        START + timedelta(days=1),
        datetime(2026, 3, 4, 12, 30, tzinfo=UTC),  # day 2 at 18:00 IST
    ]

    assert sweep_at(START + timedelta(seconds=1)) == 1
    sent = Message.objects.get()
    assert (sent.body, sent.address, sent.status) == ("Hi Asha!", "919847012345", "delivered")
    assert asha.timeline.filter(kind=TimelineEntry.Kind.MESSAGE_OUT, text="Hi Asha!").exists()
    assert sweep_at(START + timedelta(hours=23)) == 0  # nothing due yet, nothing twice
    assert sweep_at(START + timedelta(days=1)) == 1
    assert sweep_at(START + timedelta(days=3)) == 1
    assert Message.objects.count() == 3
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.FINISHED
    assert [status for _, status, _ in statuses(subscription)] == ["sent"] * 3
    assert {d.sent_message.status for d in subscription.deliveries.all()} == {"delivered"}


def test_subscribing_twice_plans_nothing_more_and_restart_plans_again(welcome, asha):
    with time_machine.travel(START, tick=False):
        first, _ = sequences.subscribe(welcome, asha)
    sweep_at(START + timedelta(minutes=1))
    again, planned = sequences.subscribe(welcome, asha)
    assert (again.pk, planned) == (first.pk, False)
    assert Delivery.objects.count() == 3

    later = START + timedelta(days=10)
    with time_machine.travel(later, tick=False):
        restarted, planned = sequences.subscribe(welcome, asha, restart=True)
    assert planned and restarted.pk == first.pk and restarted.started_at == later
    assert list(restarted.deliveries.values_list("status", flat=True)) == ["pending"] * 3
    assert sweep_at(later) == 1  # the first step goes again
    assert Message.objects.count() == 2


def test_start_at_a_later_step_skips_the_earlier_ones(welcome, asha):
    with time_machine.travel(START, tick=False):
        subscription, _ = sequences.subscribe(welcome, asha, start_at=2)
    assert [text for text, _, _ in statuses(subscription)] == ["Day one tips", "Last one"]


def test_bad_subscriptions_say_what_is_wrong(welcome, asha, project, sandbox, other_project):
    with pytest.raises(sequences.SequenceError, match="has 3 steps: start at a step from 1 to 3"):
        sequences.subscribe(welcome, asha, start_at=4)
    empty = Sequence.objects.create(project=project, name="Empty", channel=sandbox)
    with pytest.raises(sequences.SequenceError, match="'Empty' has no message yet"):
        sequences.subscribe(empty, asha)
    welcome.enabled = False
    welcome.save()
    with pytest.raises(sequences.SequenceError, match="'Welcome' is turned off"):
        sequences.subscribe(welcome, asha)
    stranger = crm.upsert_contact(other_project, "919847099999")
    with pytest.raises(sequences.SequenceError, match="not a contact of the sequence's project"):
        sequences.subscribe(empty, stranger)
    assert not Subscription.objects.exists()


def test_find_sequence_any_case_and_the_names_of_the_known_ones(welcome, project):
    assert sequences.find_sequence(project, " welcome ") == welcome
    assert sequences.find_sequence(project, "Onboarding") is None
    assert sequences.unknown_sequence_message(project, "Onboarding") == (
        "No sequence named 'Onboarding' in this project. Its sequences: Welcome."
    )


def test_unsubscribed_blacklisted_and_opted_out_contacts_get_nothing(welcome, asha, project):
    ravi = crm.upsert_contact(project, "919847000002", name="Ravi")
    mina = crm.upsert_contact(project, "919847000003", name="Mina")
    welcome.optout_list = "Promotions"
    welcome.save()
    with time_machine.travel(START, tick=False):
        for contact in (asha, ravi, mina):
            sequences.subscribe(welcome, contact)
    assert sequences.unsubscribe(welcome, asha)
    assert not sequences.unsubscribe(welcome, asha)  # already out
    crm.set_blacklisted(ravi, True)
    crm.opt_out(mina, "promotions")

    assert sweep_at(START + timedelta(minutes=1)) == 2
    assert not Message.objects.exists()
    asha_sub = Subscription.objects.get(contact=asha)
    assert asha_sub.status == Subscription.Status.UNSUBSCRIBED
    assert {reason for _, _, reason in statuses(asha_sub)} == {"The contact left the sequence."}
    assert statuses(Subscription.objects.get(contact=ravi))[0][1:] == (
        "skipped",
        "The contact is blacklisted.",
    )
    assert statuses(Subscription.objects.get(contact=mina))[0][1:] == (
        "skipped",
        "The contact opted out of 'Promotions'.",
    )


def test_a_deleted_contact_leaves_nothing_to_send(welcome, asha):
    with time_machine.travel(START, tick=False):
        sequences.subscribe(welcome, asha)
    asha.delete()
    assert not Delivery.objects.exists()
    assert sweep_at(START + timedelta(days=5)) == 0


def test_a_stop_keyword_reply_ends_the_subscription(
    welcome, asha, client, sandbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(START, tick=False):
        subscription, _ = sequences.subscribe(welcome, asha)
    body = {"number": asha.number, "message": "Thanks!"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(sandbox.webhook_path, json.dumps(body), content_type="application/json")
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE

    body["message"] = " stop "
    with django_capture_on_commit_callbacks(execute=True):
        client.post(sandbox.webhook_path, json.dumps(body), content_type="application/json")
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.STOPPED
    assert subscription.reason == "The contact replied 'stop'."
    assert sweep_at(START + timedelta(days=5)) == 0
    assert not Message.objects.filter(direction="out").exists()


def test_the_sweep_with_nothing_due_is_one_query(welcome, asha):
    with time_machine.travel(START, tick=False):
        sequences.subscribe(welcome, asha, start_at=2)
    with time_machine.travel(START, tick=False), CaptureQueriesContext(connection) as queries:
        assert sweep_due_deliveries() == 0
    claims = [q["sql"] for q in queries if "journeys_delivery" in q["sql"]]
    assert len(claims) == 1, queries.captured_queries
    assert (
        len([q for q in queries if not q["sql"].startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]) == 1
    )


def test_outside_the_24_hour_session_only_templates_go(project, cloud, asha, httpserver):
    sequence = Sequence.objects.create(project=project, name="Official", channel=cloud)
    add_step(sequence, 0, text="Plain text", delay_amount=5, delay_unit="minutes")
    add_step(
        sequence,
        1,
        kind="template",
        template="order_update",
        template_params=["{{ contact.name }}"],
        delay_amount=5,
        delay_unit="minutes",
    )
    httpserver.expect_request("/v21.0/106540352242922/messages", method="POST").respond_with_json(
        {"messaging_product": "whatsapp", "messages": [{"id": "wamid.sent"}]}
    )
    with time_machine.travel(START, tick=False):
        subscription, _ = sequences.subscribe(sequence, asha)
    assert sweep_at(START + timedelta(minutes=6)) == 2
    (text, text_status, reason), (_, template_status, _) = statuses(subscription)
    assert text_status == "skipped"
    assert "only accepts an approved template" in reason
    assert template_status == "sent"
    message = Message.objects.get(direction="out")
    assert (message.template, message.template_params) == ("order_update", ["Asha"])
    assert message.status == "submitted"


def test_inside_the_24_hour_session_text_goes(project, cloud, asha, httpserver):
    sequence = Sequence.objects.create(project=project, name="Official", channel=cloud)
    add_step(sequence, 0, text="Plain text", delay_amount=1, delay_unit="hours")
    httpserver.expect_request("/v21.0/106540352242922/messages", method="POST").respond_with_json(
        {"messaging_product": "whatsapp", "messages": [{"id": "wamid.sent"}]}
    )
    with time_machine.travel(START, tick=False):
        subscription, _ = sequences.subscribe(sequence, asha)
        Message.objects.create(
            project=project, channel=cloud, contact=asha, direction="in", address=asha.number
        )
    assert sweep_at(START + timedelta(hours=2)) == 1
    assert statuses(subscription)[0][1] == "sent"


def test_days_keep_the_wall_time_across_dst_and_hours_do_not(project):
    tz = project.tzinfo.__class__("America/New_York")
    started = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # 09:00 EST, the day before DST starts
    after = SequenceMessage(delay_amount=1, delay_unit="days")
    assert due_time(after, started, tz) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT
    hours = SequenceMessage(delay_amount=24, delay_unit="hours")
    assert due_time(hours, started, tz) == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
    # 02:30 does not exist on 8 March: it moves forward by the gap.
    gap = SequenceMessage(timing="on_day", day=1, send_time=time(2, 30))
    assert due_time(gap, started, tz) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_weekdays_move_a_step_to_the_next_chosen_day(project):
    tz = project.tzinfo  # Asia/Kolkata; START is a Monday
    step = SequenceMessage(timing="on_day", day=0, send_time=time(9, 0), weekdays=[2, 4])
    assert due_time(step, START, tz) == datetime(2026, 3, 4, 3, 30, tzinfo=UTC)  # Wednesday
    friday = SequenceMessage(delay_amount=3, delay_unit="days", weekdays=[2, 4])
    # Thursday is not chosen: Friday.
    assert due_time(friday, START, tz) == datetime(2026, 3, 6, 4, 30, tzinfo=UTC)


def test_a_step_without_content_or_timing_is_refused_at_its_fields(welcome, project):
    email = project.channels.create(name="Mail", kind="email")
    with pytest.raises(ValidationError) as caught:
        SequenceMessage(sequence=welcome, kind="text", text=" ").full_clean()
    assert caught.value.message_dict["text"] == ["A text message needs its text."]
    with pytest.raises(ValidationError) as caught:
        SequenceMessage(sequence=welcome, kind="template", timing="on_day").full_clean()
    errors = caught.value.message_dict
    assert errors["template"] == ["Name the approved template to send."]
    assert errors["day"] == ["Give the day (0 is the day of the subscription)."]
    assert errors["send_time"] == ["Give the time of day, e.g. 09:00."]
    with pytest.raises(ValidationError) as caught:
        SequenceMessage(sequence=welcome, text="{{ contact..name }}", weekdays=[7]).full_clean()
    assert "text" in caught.value.message_dict
    assert caught.value.message_dict["weekdays"] == ["Choose weekdays from Monday to Sunday."]
    mailed = Sequence.objects.create(project=project, name="Mailed", channel=email)
    with pytest.raises(ValidationError) as caught:
        SequenceMessage(sequence=mailed, kind="template", template="hello").full_clean()
    assert "cannot send WhatsApp templates" in caught.value.message_dict["kind"][0]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_send_each_delivery_once(project, sandbox):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    sequence = Sequence.objects.create(project=project, name="Welcome", channel=sandbox)
    add_step(sequence, 0, text="Hi {{ contact.name }}", delay_amount=0, delay_unit="minutes")
    with time_machine.travel(START, tick=False):
        for n in range(200):
            contact = crm.upsert_contact(project, f"9198470{n:05d}", name=f"C{n}")
            sequences.subscribe(sequence, contact)
    settled = {}
    start = threading.Barrier(2)

    def sweeper(name):
        try:
            start.wait()
            total = 0
            while count := settle_due_batch(batch_size=10)[0]:
                total += count
            settled[name] = total
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(settled.values()) == 200
    assert Message.objects.count() == 200
    assert Message.objects.values("contact").distinct().count() == 200
    assert Delivery.objects.filter(status="sent", sent_message__isnull=False).count() == 200


def test_a_drip_message_does_not_answer_a_customer_waiting_for_an_agent(
    welcome, asha, client, sandbox, django_capture_on_commit_callbacks
):
    body = {"number": asha.number, "message": "Is my order shipped?"}
    with time_machine.travel(START, tick=False):
        sequences.subscribe(welcome, asha)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(sandbox.webhook_path, json.dumps(body), content_type="application/json")
    conversation = Conversation.objects.get(contact=asha, channel=sandbox)
    assert conversation.waiting_since == START

    assert sweep_at(START + timedelta(minutes=1)) == 1
    conversation.refresh_from_db()
    assert conversation.waiting_since == START  # still waiting for an agent
    assert conversation.last_message_at == START + timedelta(minutes=1)
