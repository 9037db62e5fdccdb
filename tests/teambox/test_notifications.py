"""Instant notifications: one per agent, unread until read, all cleared at once."""

import pytest
from django.contrib.auth import get_user_model

from crm import services as crm
from teambox import notifications
from teambox.models import Notification


@pytest.fixture
def users(db):
    make = get_user_model().objects.create_user
    return make("meera"), make("ravi")


def test_each_agent_gets_one_unread_notification(project, users):
    meera, ravi = users
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    sent = notifications.notify_agents(
        project,
        [meera, ravi, meera],
        "Refund asked " + "x" * 300,
        "Order 1042",
        browser=True,
        contact=asha,
        record_id="ORD-1042",
    )
    assert [n.user for n in sent] == [meera, ravi]
    saved = Notification.objects.get(user=meera)
    assert len(saved.title) == 200 and saved.title.endswith("…")
    assert (saved.description, saved.browser, saved.contact, saved.record_id) == (
        "Order 1042", True, asha, "ORD-1042",
    )  # fmt: skip
    assert list(notifications.unread_notifications(meera, project)) == [saved]


def test_a_record_id_too_long_is_refused_with_its_length(project, users):
    with pytest.raises(ValueError, match="101 characters long; at most 100"):
        notifications.notify_agents(project, users, "Title", record_id="r" * 101)
    assert not Notification.objects.exists()


def test_reading_and_clearing(project, other_project, users):
    meera, ravi = users
    first, second = (
        notifications.notify_agents(project, [meera], title)[0] for title in ("One", "Two")
    )
    [elsewhere] = notifications.notify_agents(other_project, [meera], "Globex")
    [ravis] = notifications.notify_agents(project, [ravi], "Ravi's")

    assert not notifications.mark_notification_read(ravis, meera)
    assert notifications.mark_notification_read(first, meera)
    assert not notifications.mark_notification_read(first, meera)
    assert list(notifications.unread_notifications(meera, project)) == [second]

    assert notifications.clear_notifications(meera, project) == 1
    assert not notifications.unread_notifications(meera, project).exists()
    assert list(notifications.unread_notifications(meera, other_project)) == [elsewhere]
    assert list(notifications.unread_notifications(ravi, project)) == [ravis]
