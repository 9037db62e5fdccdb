"""Pickers: the project's own names offered in action settings as the user types, from the
admin's picker endpoint, to the project's managers only."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from actions.pickers import DuplicatePicker, names_for, picker
from actions.types.fields import RowsInput
from connectors.models import Counter
from crm.models import Category, OptOutList, Tag
from picky.models import Membership
from teambox.models import Channel, Department
from tests.builders import build_connector


def pick(client, source, project, term=""):
    url = reverse("admin:actions_action_pick", args=[source])
    return client.get(url, {"project": project.pk, "term": term})


@pytest.fixture
def shop(project, other_project):
    for name in ("Shop WhatsApp", "Sandbox", "Support mail"):
        Channel.objects.create(project=project, name=name, kind=Channel.Kind.SANDBOX)
    Channel.objects.create(project=other_project, name="Shop rival", kind=Channel.Kind.SANDBOX)
    for name in ("VIP", "Lead", "Solar lead"):
        Tag.objects.create(project=project, name=name)
    Tag.objects.create(project=other_project, name="Leaked")
    Category.objects.create(project=project, name="Retail")
    OptOutList.objects.create(project=project, name="Promotions")
    Counter.objects.create(project=project, name="kerala_leads")
    Department.objects.create(project=project, name="Sales")
    build_connector(project, name="Website leads")
    build_connector(
        project,
        name="Webinar reminders",
        steps=[
            {
                "delay": {
                    "mode": "fixed",
                    "amount": 1,
                    "unit": "days",
                    "identifier": "{{ event.id }}",
                }
            },
            {"delay": {"mode": "fixed", "amount": 2, "unit": "days"}},
        ],
    )
    return project


def test_a_name_registered_twice_is_refused():
    with pytest.raises(DuplicatePicker, match="'channels' is registered twice"):

        @picker("channels")
        def more_channels(project, term):
            return []


def test_each_source_offers_its_projects_names_filtered_by_the_term(shop, member):
    assert names_for("channels", shop) == ["Sandbox", "Shop WhatsApp", "Support mail"]
    # Names starting with the term first, then the others containing it.
    assert names_for("tags", shop, "lea") == ["Lead", "Solar lead"]
    assert names_for("categories", shop) == ["Retail"]
    assert names_for("optout_lists", shop, "PROMO") == ["Promotions"]
    assert names_for("counters", shop) == ["kerala_leads"]
    assert names_for("departments", shop) == ["Sales"]
    assert names_for("connectors", shop, "web") == ["Webinar reminders", "Website leads"]
    assert names_for("delay_identifiers", shop) == ["{{ event.id }}"]
    assert names_for("members", shop, "mem") == ["member"]
    assert names_for("members", shop, "nobody") == []


def test_managers_get_the_names_as_json(client, shop, member):
    client.force_login(member)

    answer = pick(client, "tags", shop, "lead")

    assert answer.status_code == 200
    assert answer.json() == {"results": ["Lead", "Solar lead"]}


def test_another_projects_names_are_not_offered(client, shop, other_project, member):
    client.force_login(member)

    assert pick(client, "channels", other_project).status_code == 403
    assert "Shop rival" not in pick(client, "channels", shop, "shop").json()["results"]


def test_agents_and_unknown_sources_get_nothing(client, shop):
    agent = get_user_model().objects.create_user("agent", password="pw", is_staff=True)
    Membership.objects.create(project=shop, user=agent, role=Membership.Role.AGENT)
    client.force_login(agent)
    assert pick(client, "channels", shop).status_code == 403

    admin = get_user_model().objects.create_superuser("root", password="pw")
    client.force_login(admin)
    assert pick(client, "spaceships", shop).status_code == 404
    url = reverse("admin:actions_action_pick", args=["channels"])
    assert client.get(url).json() == {"error": "Name the project: ?project=<id>."}


def test_the_action_page_renders_pickers_for_the_actions_project(client, shop, member):
    connector = build_connector(
        shop,
        name="Tagging",
        steps=[{"actions": [("add_tag", {"tags": ["VIP", "Lead"]})]}],
    )
    action = connector.steps.get().actions.get()
    client.force_login(member)

    page = client.get(reverse("admin:actions_action_change", args=[action.pk]))

    # A list setting is rows (RowsInput); each row offers the picker's names (builder.js
    # gives every row the list's picker URL).
    box = page.context["adminform"].form["config__tags"]
    assert isinstance(box.field.widget, RowsInput) and box.field.widget.source == "tags"
    html = str(box)
    assert 'data-picky-rows="list"' in html
    assert f'data-picky-picker-url="/admin/actions/action/pick/tags/?project={shop.pk}"' in html
    assert "&quot;VIP&quot;" in html and "&quot;Lead&quot;" in html

    add = client.get(
        reverse("admin:actions_action_add"),
        {"type": "send_message", "step": connector.steps.get().pk},
    )
    assert 'data-picky-picker-url="/admin/actions/action/pick/channels/' in str(
        add.context["adminform"].form["config__channel"]
    )


def test_a_picked_list_saves_as_a_list(client, shop, member):
    connector = build_connector(shop, name="Tagging", steps=[{"actions": []}])
    step = connector.steps.get()
    client.force_login(member)

    answer = client.post(
        reverse("admin:actions_action_add") + f"?type=add_tag&step={step.pk}",
        {"step": step.pk, "name": "", "enabled": "on", "config__tags": "VIP, {{ event.source }}"},
    )

    assert answer.status_code == 302
    assert step.actions.get().config == {"tags": ["VIP", "{{ event.source }}"]}
