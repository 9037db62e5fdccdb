"""Smart replies and chatbot flows through real Celery workers (PostgreSQL, Redis): the
contact's message is stored by a worker, which answers it, and the replies are sent
through the sandbox channel by the workers; silent flows are ended by the beat task."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from crm import services as crm
from journeys.flows import services as flows
from journeys.flows.models import FlowSession
from journeys.replies.models import SmartReply
from journeys.tasks import end_silent_flows
from teambox.models import InboundDelivery, Message
from tests.workers import purge_broker, requires_integration, running_worker, wait_for

from .flow_builders import onboarding, say, sent_to

pytestmark = [pytest.mark.integration, requires_integration]

NUMBER = "919847012345"


def delivered(contact, count):
    return lambda: (
        Message.objects.filter(
            contact=contact, direction=Message.Direction.OUT, status=Message.Status.DELIVERED
        ).count()
        == count
    )


@pytest.mark.django_db(transaction=True)
def test_workers_answer_by_smart_reply_and_drive_a_flow(client, project, sandbox, settings):
    # Every webhook is left to a worker, which stores its message and answers it.
    settings.PICKY_INBOUND_INLINE_ITEMS = 0
    purge_broker()
    SmartReply.objects.create(
        project=project, name="Prices", phrases="price", reply="See example.com/prices"
    )
    asha = crm.upsert_contact(project, NUMBER, name="Asha")
    with running_worker(name="j2"):
        say(client, sandbox, NUMBER, "What's the price?")
        wait_for(delivered(asha, 1), timeout=30, message="the smart reply")
        assert InboundDelivery.objects.get().status == InboundDelivery.Status.DONE
        assert sent_to(asha) == ["See example.com/prices"]

        flows.start_flow(onboarding(project), asha, channel=sandbox)
        wait_for(delivered(asha, 3), timeout=30, message="the flow's greeting and question")
        say(client, sandbox, NUMBER, "price? 34")
        wait_for(delivered(asha, 4), timeout=30, message="the retry message")
        say(client, sandbox, NUMBER, "34")
        wait_for(delivered(asha, 6), timeout=30, message="the flow's next messages")
    assert sent_to(asha)[1:] == [
        "Hi Asha!",
        "How old are you?",
        "A number please, Asha.",
        "Welcome aboard.",
        "Your e-mail?",
    ]
    asha.refresh_from_db()
    assert asha.attributes == {"age": 34}
    assert FlowSession.objects.get(contact=asha).step == "Email"


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_ends_silent_flows_in_a_worker(project, sandbox):
    purge_broker()
    asha = crm.upsert_contact(project, NUMBER, name="Asha")
    flow = onboarding(project, timeout_minutes=30, timeout_message="Bye for now.")
    # Started an hour ago (the worker's clock is the real one).
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        flows.start_flow(flow, asha, channel=sandbox)
    with running_worker(name="j2"):
        end_silent_flows.delay()
        wait_for(delivered(asha, 3), timeout=30, message="the timeout message")
    assert not FlowSession.objects.exists()
    assert sent_to(asha)[-1] == "Bye for now."
