"""The live preview of the formatter actions' pages: the endpoint runs the action with the
form's unsaved settings on the connector's sample payload, answers field errors while a
setting is refused, and serves the actions of the user's projects only."""

import pytest
from django.urls import reverse

from actions.models import Action
from tests.builders import build_connector

pytestmark = pytest.mark.django_db

SAMPLE = {"order": {"total": "12.50", "paid_at": 1765278000000}, "customer": "山田"}


@pytest.fixture
def step(project):
    connector = build_connector(project, name="Orders", steps=[{"name": "Shape"}])
    connector.sample_payload = SAMPLE
    connector.save(update_fields=["sample_payload"])
    return connector.steps.get()


def form_data(step, **config):
    data = {"step": step.pk, "name": "", "enabled": "on"}
    data.update({f"config__{key}": value for key, value in config.items()})
    return data


def preview_url(**query):
    url = reverse("admin:actions_action_preview")
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()))


def test_an_unsaved_math_action_is_run_on_the_sample(client, member, step):
    client.force_login(member)
    data = form_data(step, expression='"{{ event.order.total }}" * 2 + 0.1')
    answer = client.post(preview_url(type="math"), data).json()
    assert answer == {"outputs": {"result": 25.1, "text": "25.10"}, "notes": []}
    assert not Action.objects.exists()
    data = form_data(step, name="buyer", value="{{ event.customer }}")
    answer = client.post(preview_url(type="set_variable"), data).json()
    assert answer["outputs"] == {"name": "buyer", "value": "山田"}


def test_the_preview_reads_what_earlier_actions_save(client, member, step, project):
    Action.objects.create(
        step=step,
        type="line_items",
        config={"items": "{{ event.lines }}", "totals": ["price"], "save_as": "order"},
    )
    step.connector.sample_payload = {"lines": [{"price": "0.10"}, {"price": "0.20"}]}
    step.connector.save(update_fields=["sample_payload"])
    client.force_login(member)
    data = form_data(step, expression="{{ vars.order.totals_text.price }} * 10")
    answer = client.post(preview_url(type="math"), data).json()
    assert answer == {"outputs": {"result": 3, "text": "3.00"}, "notes": []}
    assert Action.objects.count() == 1


def test_a_saved_action_is_previewed_with_the_settings_as_typed(client, member, step):
    action = Action.objects.create(
        step=step, type="format_date", config={"date": "{{ event.order.paid_at }}"}
    )
    client.force_login(member)
    data = form_data(step, date="{{ event.order.paid_at }}", format="date")
    data.pop("step")  # shown, not edited, on a saved action's page
    answer = client.post(preview_url(action=action.pk), data).json()
    assert answer["outputs"]["text"] == "9 December 2025"
    action.refresh_from_db()
    assert action.config == {"date": "{{ event.order.paid_at }}"}


def test_refused_settings_and_step_errors_are_answered(client, member, step):
    client.force_login(member)
    data = form_data(step, text="x", operation="extract", pattern="(?<=a)b")
    answer = client.post(preview_url(type="data_parser"), data).json()
    assert "look-behind" in answer["errors"]["pattern"][0]
    data = form_data(step, expression="{{ event.customer }} + 1")
    answer = client.post(preview_url(type="math"), data).json()
    assert answer == {"error": "'山田' is not a number.", "notes": []}


def test_a_connector_without_a_sample_says_so(client, member, step):
    step.connector.sample_payload = None
    step.connector.save(update_fields=["sample_payload"])
    client.force_login(member)
    answer = client.post(preview_url(type="math"), form_data(step, expression="1")).json()
    assert answer["error"].startswith("This connector has no sample payload yet")


def test_only_formatters_of_the_users_projects_are_previewed(client, member, step, other_project):
    client.force_login(member)
    assert client.post(preview_url(type="send_email"), form_data(step)).status_code == 404
    elsewhere = build_connector(other_project, steps=[{"name": "Theirs"}]).steps.get()
    response = client.post(preview_url(type="math"), form_data(elsewhere, expression="1"))
    assert response.status_code == 404
    theirs = Action.objects.create(step=elsewhere, type="math", config={"expression": "1"})
    response = client.post(preview_url(action=theirs.pk), form_data(elsewhere, expression="1"))
    assert response.status_code == 404


def test_the_action_page_shows_the_preview_box(client, member, step):
    client.force_login(member)
    add = reverse("admin:actions_action_add") + f"?type=line_items&step={step.pk}"
    page = client.get(add).content.decode()
    assert 'data-picky-preview="/admin/actions/action/preview/"' in page
    assert "picky/action-preview.js" in page
    page = client.get(reverse("admin:actions_action_add") + f"?type=send_email&step={step.pk}")
    assert "data-picky-preview" not in page.content.decode()
