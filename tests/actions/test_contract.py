"""The contract every registered action type keeps (DESIGN.md "Actions"), checked for each
key of the registry, so that a type is held to it the day it is registered: its config form
takes a minimal config and refuses an empty one at its fields, refuses a setting it does
not know at its path, round-trips through export and import and through its admin page,
the admin's add page renders, it runs (or, reaching outside, simulates) without an internal
error, and loggable() masks its secrets."""

import copy
import json
import re

import pytest
from django import forms
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS

from actions.base import ActionConfigForm, ActionType, Effect
from actions.models import Action
from actions.registry import all_types, get_type
from actions.types.fields import JSONValueField, TextListField
from actions.types.http import HeadersField
from connectors import engine, services
from connectors.models import Run, RunLog
from connectors.transfer import (
    FORMAT,
    ConnectorImportError,
    export_connector,
    import_connector,
)
from picky.models import Membership
from picky.secret_values import MaskedKeysMixin, is_secret_name
from teambox.models import Channel
from tests.api_client import api_client
from tests.builders import build_connector

pytestmark = pytest.mark.django_db

TYPE_KEYS = sorted(all_types())

# Minimal configs of the types whose required settings need particular values (an address,
# a URL, a rule across settings). Every other type's is derived from its form's required
# fields (`derived_config`); a type for which that fails must be added here.
MINIMAL_CONFIGS = {
    "add_event_feed": {"subject": "Order {{ event.id }}"},
    "add_reminder": {"text": "Call back", "amount": 2},
    "assign_chat": {"channel": "WhatsApp"},
    "broadcast": {"channel": "WhatsApp", "text": "Hello"},
    "cancel_delay": {"targets": [{"connector": "", "identifier": "order-1"}]},
    "chatbot_add": {"flow": "{{ event.flow }}", "channel": "WhatsApp"},
    "get_users": {"save_as": "team"},
    "group_add_members": {"channel": "WhatsApp", "groups": ["Tips"], "numbers": ["919847012345"]},
    "group_create": {"channel": "WhatsApp", "name": "Tips", "members": ["{{ event.phone }}"]},
    "group_remove_members": {
        "channel": "WhatsApp",
        "groups": ["Tips"],
        "numbers": ["{{ event.phone }}"],
    },
    "group_send_message": {"channel": "WhatsApp", "groups": ["Tips"], "text": "Hello"},
    "data_parser": {"text": "{{ event.name }}", "operation": "split"},
    "format_date": {"date": "2025-12-09T16:30:00+05:30"},
    "line_items": {"items": "{{ event.items }}"},
    "math": {"expression": "1 + 2"},
    "http_request": {"url": "https://api.example.com/leads"},
    "kick_all_users": {"channel": "WhatsApp"},
    "kick_user": {"users": ["{{ event.agent }}"]},
    "map_contact": {"number": "{{ event.phone }}"},
    "funnel_add": {"funnel": "{{ event.funnel }}", "stage": "Won", "record": "{{ event.id }}"},
    "funnel_remove": {"funnel": "{{ event.funnel }}", "record": "{{ event.id }}"},
    "record_add": {"module": "Deals", "values": {"title": "{{ event.name }}"}},
    "record_delete": {
        "module": "Deals",
        "criteria": [[{"field": "title", "op": "equals", "value": "{{ event.name }}"}]],
    },
    "record_search": {"module": "Deals", "save_as": "deals"},
    "record_update": {
        "module": "Deals",
        "criteria": [[{"field": "title", "op": "equals", "value": "{{ event.name }}"}]],
        "values": {"stage": "Won"},
    },
    "row_create": {"table": "{{ event.table }}", "row": "gold", "values": {"price": "1"}},
    "row_delete": {"table": "{{ event.table }}", "row": "gold"},
    "row_empty": {"table": "{{ event.table }}", "row": "gold"},
    "row_update": {"table": "{{ event.table }}", "row": "gold", "values": {"price": "1"}},
    "send_email": {"to": ["{{ event.email }}"], "subject": "Hello", "body": "Hello"},
    "set_global": {"name": "visits", "value": 1},
    "send_message": {"channel": "WhatsApp", "to": ["{{ contact.number }}"], "text": "Hello"},
    "send_instant_notification": {"agents": ["{{ event.agent }}"], "title": "New lead"},
    "trigger_macro": {
        "module": "{{ event.module }}",
        "button": "{{ event.button }}",
        "agent": "{{ event.agent }}",
        "record_id": "{{ event.record }}",
    },
    "sequence_subscribe": {"sequence": "{{ event.sequence }}"},
    "sequence_unsubscribe": {"sequence": "{{ event.sequence }}"},
}

PAYLOAD = {"phone": "+91 98470 12345", "email": "asha@shop.example", "name": "Asha"}
FIELD_MAPPING = {"number": "{{ event.phone }}", "email": "{{ event.email }}"}
SECRET = "s3cret-never-shown-4711"
# Settings whose names read like a secret's but hold none.
NAMED_LIKE_SECRETS = {"max_tokens"}
# What a message written for a business user does not contain: Python's own words.
PYTHON_TALK = re.compile(
    r"Internal error|Traceback|\b\w+(Error|Exception)\b|object at 0x|NoneType|\w+\(\)|\{'"
)


def sample_value(field):
    """A valid value for a required form field of a plain kind; None for other kinds."""
    if isinstance(field, forms.ChoiceField):
        return next(str(value) for value, _ in field.choices if value != "")
    if isinstance(field, forms.BooleanField):
        return True
    if isinstance(field, forms.IntegerField):  # and FloatField
        return max(1, field.min_value or 0)
    if isinstance(field, TextListField):
        return ["Sample"]
    if isinstance(field, (forms.CharField, JSONValueField)):
        return "Sample"
    return None


def derived_config(action_type):
    """A value for each required field of the type's form, or None when one cannot be
    derived."""
    config = {}
    for name, field in action_type.form_class.base_fields.items():
        if field.required:
            config[name] = sample_value(field)
            if config[name] is None:
                return None
    return config


def minimal_config(key):
    """The type's smallest valid config, as a user would write it."""
    action_type = get_type(key)
    config = MINIMAL_CONFIGS.get(key) or derived_config(action_type)
    problem = "a required field of a kind the test cannot fill"
    if config is not None:
        try:
            action_type.validate(copy.deepcopy(config))
        except forms.ValidationError as exc:
            problem = f"{config} is refused: {exc.messages}"
        else:
            return copy.deepcopy(config)
    pytest.fail(
        f"No minimal config for {key!r} ({problem}): add its smallest valid config to "
        f"MINIMAL_CONFIGS in {__name__}."
    )


def document(key, config, name="Contract"):
    return {
        "format": FORMAT,
        "name": name,
        "steps": [{"name": "Only step", "actions": [{"type": key, "config": config}]}],
    }


def assert_plain_sentence(message):
    assert message[:1].isupper() and message.rstrip().endswith("."), message
    assert not PYTHON_TALK.search(message), message


@pytest.fixture
def whatsapp(project):
    """The channel the design's examples send with."""
    return Channel.objects.create(project=project, name="WhatsApp", kind=Channel.Kind.SANDBOX)


@pytest.fixture
def member_client(client, project):
    """An admin of `project`, without a password: hashing one takes a second."""
    user = get_user_model().objects.create_user("admin", is_staff=True)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


@pytest.mark.parametrize("key", TYPE_KEYS)
class TestEveryType:
    def test_takes_a_minimal_config(self, key):
        config = minimal_config(key)
        cleaned = get_type(key).validate(config)
        # What is saved validates again to itself: a saved action is never refused later.
        assert get_type(key).validate(copy.deepcopy(cleaned)) == cleaned

    def test_refuses_an_empty_config_at_its_required_fields(self, key):
        action_type = get_type(key)
        required = [
            name for name, field in action_type.form_class.base_fields.items() if field.required
        ]
        try:
            cleaned = action_type.validate({})
        except forms.ValidationError as exc:
            errors = exc.message_dict
        else:
            assert not required, f"{key} took an empty config without {required}"
            assert cleaned == {}
            return
        if required:
            assert set(required) <= set(errors), errors
            assert set(errors) <= {*required, NON_FIELD_ERRORS}, errors
        else:
            # Every field is optional, but the form wants one of several (map_contact).
            assert set(errors) == {NON_FIELD_ERRORS}, errors
        for message in (message for messages in errors.values() for message in messages):
            assert_plain_sentence(message)

    def test_refuses_a_setting_it_does_not_know_at_its_path(self, key, project, whatsapp):
        config = {**minimal_config(key), "by": 2}

        with pytest.raises(ConnectorImportError) as caught:
            import_connector(project, document(key, config))

        known = ", ".join(sorted(get_type(key).form_class.base_fields))
        assert caught.value.errors == [
            ("steps[0].actions[0].config.by", f"unknown setting; {key} takes {known}")
        ]
        with pytest.raises(forms.ValidationError) as refused:
            get_type(key).validate(config)
        assert list(refused.value.message_dict) == ["by"]

    def test_round_trips_through_export_and_import(self, key, project, whatsapp):
        original = import_connector(project, document(key, minimal_config(key)))
        exported = json.loads(json.dumps(export_connector(original)))

        copied = import_connector(project, exported, name="Contract copy")

        saved = Action.objects.get(step__connector=original).config
        assert saved == get_type(key).validate(minimal_config(key))
        assert Action.objects.get(step__connector=copied).config == saved

    def test_admin_add_page_renders(self, key, project, member_client):
        step = build_connector(project, steps=[{"name": "Only step"}]).steps.get()

        response = member_client.get(f"/admin/actions/action/add/?type={key}&step={step.pk}")

        assert response.status_code == 200
        assert f"{get_type(key).label} settings" in response.content.decode()

    def test_admin_page_saves_the_config_it_shows(self, key, project, member_client, whatsapp):
        connector = import_connector(project, document(key, minimal_config(key)))
        action = Action.objects.get(step__connector=connector)
        url = f"/admin/actions/action/{action.pk}/change/"
        form = member_client.get(url).context["adminform"].form

        response = member_client.post(url, form_as_sent(form))

        assert response.status_code == 302, response.context["adminform"].form.errors
        # The page shows a setting left out at its default, and saves it so.
        defaults = {
            name: field.initial
            for name, field in get_type(key).form_class.base_fields.items()
            if field.initial is not None
        }
        saved = {**defaults, **action.config}
        action.refresh_from_db()
        assert action.config == saved

    @pytest.mark.parametrize("with_contact", [True, False], ids=["contact", "no contact"])
    def test_runs_or_simulates_without_an_internal_error(
        self, key, project, whatsapp, with_contact
    ):
        connector = import_connector(project, document(key, minimal_config(key)))
        if with_contact:
            connector.field_mapping = FIELD_MAPPING
            connector.save(update_fields=["field_mapping"])
        payload = PAYLOAD if with_contact else {}

        if get_type(key).effect == Effect.OUTSIDE:
            logs = engine.simulate(connector, payload).logs
        else:
            event = services.record_event(
                connector, payload, method="POST", headers={}, source_ip="127.0.0.1"
            )
            engine.process_event(event.pk)
            run = Run.objects.get(event=event)
            logs = list(RunLog.objects.filter(run=run).values("kind", "status", "error"))

        (log,) = [log for log in logs if log["kind"] == RunLog.Kind.ACTION]
        if log["status"] not in (RunLog.Status.RAN, RunLog.Status.STOPPED):
            # Failed, or skipped with a warning (a message to a lead without a number).
            assert log["status"] in (RunLog.Status.FAILED, RunLog.Status.SKIPPED)
            assert_plain_sentence(log["error"])

    def test_simulation_changes_nothing_and_has_no_internal_error(self, key, project, whatsapp):
        connector = import_connector(project, document(key, minimal_config(key)))
        connector.field_mapping = FIELD_MAPPING
        connector.save(update_fields=["field_mapping"])
        before = row_counts()

        simulation = engine.simulate(connector, PAYLOAD)

        assert row_counts() == before
        (log,) = [log for log in simulation.logs if log["kind"] == RunLog.Kind.ACTION]
        if log["status"] not in (RunLog.Status.RAN, RunLog.Status.STOPPED):
            # Failed, or skipped with a warning (a message to a lead without a number).
            assert log["status"] in (RunLog.Status.FAILED, RunLog.Status.SKIPPED)
            assert_plain_sentence(log["error"])

    def test_loggable_masks_every_secret(self, key):
        action_type = get_type(key)
        inputs = minimal_config(key)
        for name, field in action_type.form_class.base_fields.items():
            if isinstance(field, MaskedKeysMixin):
                inputs[name] = {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET}
            elif is_secret_name(name) and name not in NAMED_LIKE_SECRETS:
                inputs[name] = SECRET

        shown = json.dumps(action_type.loggable(inputs))

        assert SECRET not in shown, (
            f"{key}'s loggable() shows a secret: declare the setting secret in its form "
            "(picky/secret_values.py) so that logs and exports mask it."
        )


def form_as_sent(form):
    """What the browser sends back when the admin form is saved as shown."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        if isinstance(field.widget, forms.Textarea):
            value = field.widget.format_value(value)
        elif isinstance(field.widget, forms.Select) and value is None:
            value = ""
        data[name] = "" if value is None else value
    return data


def row_counts():
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


class TestUnknownSettings:
    def test_a_mistyped_setting_is_refused_not_dropped(self, project):
        typo = document("trigger_counter", {"name": "orders", "by": 5})

        with pytest.raises(ConnectorImportError) as caught:
            import_connector(project, typo)

        assert caught.value.messages == [
            "steps[0].actions[0].config.by: unknown setting; "
            "trigger_counter takes amount, fallback, name, save_as"
        ]

    def test_the_api_refuses_it_at_its_path(self, project):
        response = api_client(project).post(
            "/api/v1/connectors/import",
            document("set_variable", {"name": "total", "value": 1, "valeu": 2}),
            format="json",
        )

        assert response.status_code == 400
        assert response.json()["errors"] == [
            {
                "path": "steps[0].actions[0].config.valeu",
                "message": "unknown setting; set_variable takes fallback, name, save_as, value",
            }
        ]


class TestSecretsInLogs:
    def test_a_type_declaring_secret_keys_has_them_masked_without_a_loggable_of_its_own(self):
        class CallForm(ActionConfigForm):
            headers = HeadersField(required=False)

        class Call(ActionType):
            form_class = CallForm

        inputs = {"headers": {"X-Api-Key": SECRET, "Accept": "application/json"}}

        shown = Call().loggable(inputs)

        assert SECRET not in json.dumps(shown)
        assert shown["headers"]["Accept"] == "application/json"
        assert inputs["headers"]["X-Api-Key"] == SECRET
