"""The contact's timeline: lines added by apps, read newest first, shown escaped on the
contact's page."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model

from crm import services
from crm.models import TimelineEntry
from picky.models import Membership

Kind = TimelineEntry.Kind


@pytest.fixture
def asha(project):
    return services.upsert_contact(project, "919847012345", name="Asha")


def test_lines_are_read_newest_first_with_their_authors(project, asha):
    author = get_user_model().objects.create_user("meera", first_name="Meera")
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        services.add_timeline_entry(asha, Kind.MESSAGE_IN, "Where is my order?")
        clock.move_to(start + timedelta(minutes=1))
        note = services.add_timeline_entry(
            asha, Kind.NOTE, "Order 1042 is late", data={"conversation": 7}, author=author
        )
    services.add_timeline_entry(
        services.upsert_contact(project, "919847000001"), Kind.NOTE, "Another contact"
    )
    lines = services.timeline_of(asha)
    assert [(line.kind, line.text) for line in lines] == [
        (Kind.NOTE, "Order 1042 is late"),
        (Kind.MESSAGE_IN, "Where is my order?"),
    ]
    assert (lines[0].author, lines[0].data, lines[0].project) == (
        author,
        {"conversation": 7},
        project,
    )
    assert lines[0] == note
    assert [line.text for line in services.timeline_of(asha, limit=1)] == ["Order 1042 is late"]


def test_many_lines_go_in_at_once(asha, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        services.add_timeline_entries(
            (asha, Kind.MESSAGE_OUT, f"Offer {n}", {"message": n}) for n in range(50)
        )
    assert TimelineEntry.objects.filter(contact=asha, kind=Kind.MESSAGE_OUT).count() == 50


def test_the_contact_page_shows_the_timeline_escaped(client, project, asha):
    agent = get_user_model().objects.create_user("agent", password="pw-agent-1", is_staff=True)
    Membership.objects.create(project=project, user=agent, role=Membership.Role.AGENT)
    services.add_timeline_entry(asha, Kind.MESSAGE_IN, "<script>alert(1)</script> hello")
    services.add_timeline_entry(asha, Kind.NOTE, "Call her back", author=agent)
    client.force_login(agent)
    page = client.get(f"/admin/crm/contact/{asha.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hello" in page
    assert "<script>alert(1)" not in page
    assert page.index("Call her back") < page.index("hello")
    assert "Internal note" in page and "Message received" in page
    assert "agent" in page
