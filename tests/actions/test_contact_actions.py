"""CRM, attribute and automation actions: each changes the contact and `contact.*`."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model

from actions.base import ActionContext, ActionError
from actions.registry import get_type
from actions.types.crm import set_contact
from crm import services as crm
from crm.models import Contact, Note, Reminder
from picky.models import Membership

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def context(project, contact=None, **event):
    ctx = ActionContext(project=project, data={"event": event, "vars": {}, "contact": {}})
    if contact is not None:
        set_contact(ctx, contact)
    return ctx


def run(key, ctx, config):
    action_type = get_type(key)
    action_type.validate(config)
    return action_type.run(ctx, action_type.render(ctx, config))


@pytest.fixture
def asha(project):
    return crm.upsert_contact(project, "919847012345", name="Asha")


class TestMapContact:
    def test_creates_and_maps(self, project):
        ctx = context(project, phone="+91 98470 12345", name="Asha", city="Kochi")
        result = run(
            "map_contact",
            ctx,
            {
                "number": "{{ event.phone }}",
                "name": "{{ event.name }}",
                "attributes": {"city": "{{ event.city }}"},
            },
        )
        contact = Contact.objects.get()
        assert ctx.contact == contact
        assert ctx.data["contact"]["number"] == "919847012345"
        assert ctx.data["contact"]["attributes"] == {"city": "Kochi"}
        assert result.outputs["created"] is True

    def test_finds_by_email_and_adds_the_number(self, project):
        existing = crm.upsert_contact(project, "", email="asha@example.com")
        ctx = context(project)
        result = run("map_contact", ctx, {"email": "ASHA@example.com", "number": "919847012345"})
        existing.refresh_from_db()
        assert ctx.contact.pk == existing.pk and existing.number == "919847012345"
        assert result.outputs["created"] is False
        assert Contact.objects.count() == 1

    def test_without_create_a_missing_contact_is_an_error(self, project):
        with pytest.raises(ActionError, match="No contact has the number '919800000000', and"):
            run("map_contact", context(project), {"number": "919800000000", "only_existing": True})

    def test_a_bad_number_is_a_clear_error(self, project):
        with pytest.raises(ActionError, match="not a WhatsApp number"):
            run("map_contact", context(project), {"number": "12ab"})

    def test_config_needs_a_number_or_email(self):
        with pytest.raises(Exception, match="number or an e-mail"):
            get_type("map_contact").validate({"name": "x"})


def test_tags_and_categories(project, asha):
    ctx = context(project, asha, source="ads")
    run("add_tag", ctx, {"tags": ["VIP", "{{ event.source }}"]})
    assert ctx.data["contact"]["tags"] == ["VIP", "ads"]
    run("remove_tag", ctx, {"tags": "vip"})
    assert ctx.data["contact"]["tags"] == ["ads"]
    run("add_category", ctx, {"categories": "Retail, Wholesale"})
    run("remove_category", ctx, {"categories": ["Wholesale"]})
    assert ctx.data["contact"]["categories"] == ["Retail"]
    assert crm.contact_as_context(asha)["categories"] == ["Retail"]


def test_tags_need_a_name_after_templating(project, asha):
    with pytest.raises(ActionError, match="Every tag name came out empty"):
        run("add_tag", context(project, asha), {"tags": ["{{ event.missing }}"]})


def test_contact_actions_need_a_contact(project):
    with pytest.raises(ActionError, match="This run has no contact"):
        run("add_tag", context(project), {"tags": ["VIP"]})


def test_attributes(project, asha):
    ctx = context(project, asha, order={"total": 499})
    run("set_attribute", ctx, {"name": "last_order", "value": "{{ event.order }}"})
    assert ctx.data["contact"]["attributes"]["last_order"] == {"total": 499}
    result = run("clear_attribute", ctx, {"name": "last_order"})
    assert result.outputs["cleared"] is True
    assert ctx.data["contact"]["attributes"] == {}
    asha.refresh_from_db()
    assert asha.attributes == {}


def test_change_owner(project, asha, member):
    ctx = context(project, asha)
    run("change_owner", ctx, {"owner": "member"})
    assert ctx.data["contact"]["owner"] == "member"
    run("change_owner", ctx, {"owner": ""})
    asha.refresh_from_db()
    assert asha.owner is None
    outsider = get_user_model().objects.create_user("outsider", email="out@example.com")
    with pytest.raises(ActionError, match="No member of project 'acme' is called"):
        run("change_owner", ctx, {"owner": outsider.email})


def test_notes_and_reminders(project, asha, member):
    crm.change_owner(asha, member)
    ctx = context(project, asha, callback="2026-03-05 15:30")
    run("add_note", ctx, {"text": "Asked for a callback at {{ event.callback }}"})
    assert Note.objects.get().text == "Asked for a callback at 2026-03-05 15:30"
    run("add_reminder", ctx, {"text": "Call back", "due_at": "{{ event.callback }}"})
    reminder = Reminder.objects.get()
    # A naive time is in the project's time zone (Asia/Kolkata, +05:30).
    assert reminder.due_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert reminder.assignee == member
    with time_machine.travel(NOW, tick=False):
        result = run("add_reminder", ctx, {"text": "Follow up", "amount": 2, "unit": "days"})
    assert result.outputs["reminder"]["due_at"] == (NOW + timedelta(days=2)).isoformat()
    with pytest.raises(ActionError, match="is not a date and time: Cannot read 'soon-ish'"):
        run("add_reminder", ctx, {"text": "x", "due_at": "soon-ish"})


def test_a_reminder_due_at_epoch_seconds_or_milliseconds(project, asha):
    # 1772705400 s is 2026-03-05 10:10 UTC; a payload may send it in ms, as number or text.
    due = datetime(2026, 3, 5, 10, 10, tzinfo=UTC)
    for value in (1772705400000, "1772705400000", 1772705400, "1772705400"):
        ctx = context(project, asha, callback=value)
        result = run("add_reminder", ctx, {"text": "Call back", "due_at": "{{ event.callback }}"})
        assert Reminder.objects.get(pk=result.outputs["reminder"]["id"]).due_at == due, value
        assert result.outputs["reminder"]["due_at"] == "2026-03-05T15:40:00+05:30"


def test_delete_contact(project, asha):
    ctx = context(project, asha)
    result = run("delete_contact", ctx, {})
    assert result.outputs["deleted"]["number"] == "919847012345"
    assert ctx.contact is None and ctx.data["contact"] == {}
    assert not Contact.objects.exists()


def test_blacklist_and_optouts(project, asha):
    ctx = context(project, asha)
    run("blacklist_add", ctx, {})
    assert ctx.data["contact"]["blacklisted"] is True
    run("blacklist_remove", ctx, {})
    run("optout_add", ctx, {"list": "Promotions"})
    assert ctx.data["contact"]["optouts"] == ["Promotions"]
    assert run("optout_remove", ctx, {"list": "promotions"}).outputs["removed"] is True
    asha.refresh_from_db()
    assert not asha.blacklisted and crm.contact_as_context(asha)["optouts"] == []


def test_pause_smart_replies(project, asha):
    ctx = context(project, asha)
    with time_machine.travel(NOW, tick=False):
        run("pause_smart_replies", ctx, {"amount": 90, "unit": "minutes"})
        assert crm.smart_replies_paused(asha)
    expected = (NOW + timedelta(minutes=90)).isoformat()
    assert ctx.data["contact"]["smart_replies_paused_until"] == expected
    with pytest.raises(Exception, match="greater than or equal to 1"):
        get_type("pause_smart_replies").validate({"amount": 0, "unit": "hours"})


def test_change_owner_is_membership_scoped(project, other_project, asha):
    user = get_user_model().objects.create_user("agent")
    Membership.objects.create(project=other_project, user=user)
    with pytest.raises(ActionError, match="No member"):
        run("change_owner", context(project, asha), {"owner": "agent"})
