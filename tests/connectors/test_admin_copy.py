"""The builder's words: counts agree with their nouns, titles read as English, and help
texts are shown whole (Django's admin renders help text as HTML, so "<name>" vanished)."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from actions.registry import all_types
from connectors.admin.connectors import delay_text
from tests.builders import build_connector


@pytest.mark.parametrize(
    ("delay", "text"),
    [
        ({"mode": "fixed", "amount": 1, "unit": "days"}, "waits 1 day"),
        ({"mode": "fixed", "amount": 3, "unit": "hours"}, "waits 3 hours"),
        ({"mode": "fixed", "amount": "1"}, "waits 1 minute"),
        (
            {"mode": "fixed", "amount": "{{ event.wait }}", "unit": "weeks"},
            "waits {{ event.wait }} weeks",
        ),
        (
            {"mode": "relative", "field": "{{ event.start }}", "offset": -1, "unit": "days"},
            "waits until 1 day before {{ event.start }}",
        ),
        (
            {"mode": "relative", "field": "{{ event.start }}", "offset": "-2", "unit": "hours"},
            "waits until 2 hours before {{ event.start }}",
        ),
        (
            {"mode": "relative", "field": "{{ event.start }}", "offset": 1.5, "unit": "hours"},
            "waits until 1.5 hours after {{ event.start }}",
        ),
        ({"mode": "relative", "field": "{{ event.start }}"}, "waits until {{ event.start }}"),
    ],
)
def test_delay_summary_reads_as_english(delay, text):
    assert delay_text(delay) == text


OUR_APPS = {"picky", "crm", "teambox", "actions", "connectors"}


def admin_form_fields(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue  # Django's own forms mean their help texts as HTML
        form = model_admin.get_form(request)
        for name, field in form.base_fields.items():
            yield f"{model._meta.label}.{name}", field
    for key, action_type in all_types().items():
        for name, field in action_type.form_class.base_fields.items():
            yield f"{key}.{name}", field


@pytest.mark.django_db
def test_no_help_text_holds_markup_that_would_vanish(admin_user):
    cut = [
        where
        for where, field in admin_form_fields(admin_user)
        if "<" in str(field.help_text or "") and not hasattr(field.help_text, "__html__")
    ]
    assert cut == []


@pytest.mark.django_db
def test_adding_an_action_names_its_type_and_shows_its_help_whole(admin_client, project):
    step = build_connector(project, steps=[{"name": "Tag the lead"}]).steps.get()
    page = admin_client.get(f"/admin/actions/action/add/?type=add_tag&step={step.pk}")
    html = page.content.decode()
    assert "<title>Add action: Add Tag" in html
    assert "Add a Add" not in html
    assert "Save this action's outputs as vars.NAME (this name) for later actions." in html
