"""Hostile JSON at every entry point that takes JSON: the connector ingest, a channel
webhook, the API (connector create, update and import, project PATCH), the admin
(Simulate, Import, an action's config, a step's filters, a connector's field mapping,
a contact's attributes, a channel's credentials) and the import_connector command.

Deep nesting, NaN and infinities, 1e999, huge integers, NUL and lone surrogates in
keys and values, and bodies that are not objects always get a clear refusal (a 4xx
with a message, a form error, a CommandError) or are stored as valid values; never a
500, and a refusal leaves every row as it was.
"""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.models import Action
from connectors.models import Connector, Event, Step
from crm.models import Contact
from picky.models import Membership, Project
from teambox.models import Channel, Message
from tests.api_client import api_client
from tests.builders import build_connector

HOLE = "§"

fixed_fragments = st.sampled_from(
    [
        "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000, "-" + "9" * 4400,
        "9" * 300, '"a\\u0000b"', '"\\u0000"', '"\\ud800"', '"x\\udfff y"', '"\\udc00\\ud800"',
        '{"\\u0000": 1}', '{"k\\ud83d": "v"}', '[1, {"a": "\\u0000"}]', '{"n": NaN}',
        "[]", "{}", "null", '"text"', "1", "true", "{", '"unterminated', "a\x00b",
    ]
)  # fmt: skip


def nest(depth, kind):
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


nested_fragments = st.builds(
    nest,
    st.one_of(
        st.integers(min_value=190, max_value=210), st.integers(min_value=211, max_value=10000)
    ),
    st.sampled_from(["array", "object"]),
)

# Python values whose JSON text (json.dumps escapes everything) holds what no
# database stores: NaN, infinities, NUL and lone surrogates, in keys and values.
hostile_text = st.text(alphabet=st.sampled_from(["a", " ", "é", "\x00", "\ud800", "\udfff"]))
hostile_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3)
    ),
    max_leaves=8,
)
generated_fragments = st.builds(json.dumps, hostile_values)

fragments = st.one_of(fixed_fragments, nested_fragments, generated_fragments)


def texts(templates):
    """A template with the hostile fragment in its hole (or the fragment alone)."""
    return st.builds(
        lambda template, fragment: template.replace(HOLE, fragment),
        st.sampled_from([HOLE, *templates]),
        fragments,
    )


def snapshot():
    """Every row an entry point could write, as values."""
    models = (Project, Connector, Step, Action, Contact, Channel, Message, Event)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


def unchanged_but_rejected_events(before, after):
    """The ingest keeps a refused webhook as a rejected event, and writes nothing else."""
    added = after["Event"][len(before["Event"]) :]
    assert after["Event"][: len(before["Event"])] == before["Event"]
    assert all(event["status"] == Event.Status.REJECTED and event["error"] for event in added)
    assert {**after, "Event": []} == {**before, "Event": []}


@dataclass
class Entry:
    """An entry point: the templates its hostile texts are made of, and how to send one.
    `send` returns whether the text was refused (asserting the refusal is clear)."""

    name: str
    templates: list
    send: Callable


def api_answer(response):
    assert response.status_code < 500, response.content[:300]
    if response.status_code < 400:
        return False
    body = response.json()
    assert body and all(body.values()), body
    return True


def form_answer(response):
    """An admin form: saved (a redirect) or shown again with its errors."""
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        return False
    form = response.context.get("adminform")
    form = form.form if form is not None else response.context["form"]
    errors = [*form.errors.values(), *response.context.get("import_errors", [])]
    formsets = response.context.get("inline_admin_formsets") or []
    errors.extend(error for inline in formsets for error in inline.formset.errors if error)
    assert errors, "the form was neither saved nor shows an error"
    return True


def send_ingest(world, text):
    response = world.client.post(
        f"/hooks/{world.connector.token}", data=text.encode(), content_type="application/json"
    )
    assert response.status_code < 500, response.content[:300]
    answer = response.json()
    if response.status_code == 200:
        return False
    assert answer["status"] == "rejected" and answer["message"], answer
    return True


def send_webhook(world, text):
    response = world.client.post(
        world.channel.webhook_path, data=text.encode(), content_type="application/json"
    )
    assert response.status_code < 500, response.content[:300]
    if response.status_code < 400:
        return False
    assert response.json()["message"], response.content
    return True


def send_api(method, path):
    def send(world, text):
        call = getattr(world.api, method)
        response = call(path(world), data=text.encode(), content_type="application/json")
        return api_answer(response)

    return send


def send_admin(path, form):
    def send(world, text):
        return form_answer(world.client.post(path(world), form(world, text)))

    return send


def step_form(world, text, field):
    step = world.step
    data = {
        "name": step.name,
        "filters": "[]",
        "iterator": "null",
        "delay": "null",
        "actions-TOTAL_FORMS": "0",
        "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
    }
    data[field] = text
    return data


def connector_form(world, text, field):
    connector = world.connector
    data = {
        "name": connector.name,
        "description": "",
        "enabled": "on",
        "field_mapping": "{}",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": str(world.step.pk),
        "steps-0-connector": str(connector.pk),
        "steps-0-name": world.step.name,
        "steps-0-position": "0",
    }
    data[field] = text
    return data


def action_form(world, text, field):
    data = {
        "name": "",
        "enabled": "on",
        "config__number": "{{ event.phone }}",
        "config__attributes": "{}",
    }
    data[field] = text
    return data


def http_action_form(world, text, field):
    data = {
        "name": "",
        "enabled": "on",
        "config__method": "POST",
        "config__url": "https://example.com/leads",
        "config__body_type": "json",
        "config__body": "{}",
    }
    data[field] = text
    return data


def contact_form(world, text, field):
    data = {
        "project": world.project.pk,
        "number": "919847012345",
        "name": "Asha",
        "attributes": "{}",
        "notes-TOTAL_FORMS": 0,
        "notes-INITIAL_FORMS": 0,
        "reminders-TOTAL_FORMS": 0,
        "reminders-INITIAL_FORMS": 0,
        "optout_set-TOTAL_FORMS": 0,
        "optout_set-INITIAL_FORMS": 0,
    }
    data[field] = text
    return data


def channel_form(world, text, field):
    data = {
        "project": world.project.pk,
        "name": "Push",
        "kind": Channel.Kind.PUSH_API,
        "credentials": '{"url": "https://push.example/api", "token": "t", "application": "1"}',
        "enabled": "on",
    }
    data[field] = text
    return data


def admin_import(world, text):
    return form_answer(
        world.client.post(
            "/admin/connectors/connector/import/",
            {"project": world.project.pk, "document": text, "name": ""},
        )
    )


def admin_import_file(world, text):
    upload = io.BytesIO(text.encode())
    upload.name = "connector.json"
    return form_answer(
        world.client.post(
            "/admin/connectors/connector/import/",
            {"project": world.project.pk, "file": upload, "name": ""},
        )
    )


def admin_simulate(world, text):
    response = world.client.post(
        f"/admin/connectors/connector/{world.connector.pk}/simulate/", {"payload": text}
    )
    assert response.status_code == 200
    if response.context["simulation"] is not None:
        return False
    assert response.context["form"].errors
    return True


def command_import(world, text):
    try:
        call_command("import_connector", "-", project="acme", stdin=io.StringIO(text))
    except CommandError as refused:
        assert str(refused)
        return True
    return False


DOCUMENT = '{"format": "picky.connector/v1", "name": "Imported", "steps": [§]}'
IMPORT_TEMPLATES = [
    '{"format": "picky.connector/v1", "name": §}',
    '{"format": "picky.connector/v1", "name": "Imported", "description": §}',
    '{"format": "picky.connector/v1", "name": "Imported", "field_mapping": §}',
    '{"format": "picky.connector/v1", "name": "Imported", "field_mapping": {"number": §}}',
    '{"format": "picky.connector/v1", "name": "Imported", "field_mapping": '
    '{"attributes": {"city": §}}}',
    DOCUMENT,
    DOCUMENT.replace(HOLE, '{"name": §, "actions": []}'),
    DOCUMENT.replace(HOLE, '{"filters": §, "actions": []}'),
    DOCUMENT.replace(HOLE, '{"iterator": §, "actions": []}'),
    DOCUMENT.replace(HOLE, '{"delay": §, "actions": []}'),
    DOCUMENT.replace(HOLE, '{"actions": [{"type": "set_variable", "config": §}]}'),
    DOCUMENT.replace(
        HOLE, '{"actions": [{"type": "set_variable", "config": {"name": "x", "value": §}}]}'
    ),
    DOCUMENT.replace(
        HOLE, '{"actions": [{"type": "map_contact", "config": {"number": "1", "attributes": §}}]}'
    ),
    DOCUMENT.replace(HOLE, '{"actions": [{"type": "set_variable", "name": §, "config": {}}]}'),
]
CONNECTOR_TEMPLATES = [
    '{"name": §}',
    '{"name": "Made", "description": §}',
    '{"name": "Made", "field_mapping": §}',
    '{"name": "Made", "field_mapping": {"name": §}}',
    '{"name": "Made", "field_mapping": {"attributes": {§: "x"}}}',
    '{"name": "Made", "enabled": §}',
]
ENTRIES = [
    Entry("ingest", ['{"lead": §}', '{"a": [1, {"b": §}]}', "{§: 1}"], send_ingest),
    Entry(
        "channel webhook",
        ['{"number": "919847012345", "message": §}', '{"data": [§]}', '{"number": §}'],
        send_webhook,
    ),
    Entry(
        "API connector create",
        CONNECTOR_TEMPLATES,
        send_api("post", lambda w: "/api/v1/connectors"),
    ),
    Entry(
        "API connector update",
        CONNECTOR_TEMPLATES,
        send_api("patch", lambda w: f"/api/v1/connectors/{w.connector.pk}"),
    ),
    Entry("API import", IMPORT_TEMPLATES, send_api("post", lambda w: "/api/v1/connectors/import")),
    Entry(
        "API project PATCH",
        [
            '{"name": §}',
            '{"time_zone": §}',
            '{"retention_days": §}',
            '{"alert_email": §}',
            '{"http_rate_limit_per_minute": §}',
            '{"chatgpt_base_url": §}',
        ],
        send_api("patch", lambda w: "/api/v1/project"),
    ),  # fmt: skip
    Entry("admin simulate", [], admin_simulate),
    Entry("admin import (pasted)", IMPORT_TEMPLATES, admin_import),
    Entry("admin import (file)", IMPORT_TEMPLATES, admin_import_file),
    Entry("import_connector command", IMPORT_TEMPLATES, command_import),
    *(
        Entry(
            f"admin step {field}",
            [],
            send_admin(
                lambda w: f"/admin/connectors/step/{w.step.pk}/change/",
                lambda w, t, field=field: step_form(w, t, field),
            ),
        )
        for field in ("filters", "iterator", "delay", "name")
    ),
    *(
        Entry(
            f"admin connector {field}",
            ['{"number": §}', '{"attributes": {"a": §}}'] if field == "field_mapping" else [],
            send_admin(
                lambda w: f"/admin/connectors/connector/{w.connector.pk}/change/",
                lambda w, t, field=field: connector_form(w, t, field),
            ),
        )
        for field in ("field_mapping", "name", "steps-0-name")
    ),
    *(
        Entry(
            f"admin action config {field}",
            ['{"city": §}'] if field == "config__attributes" else [],
            send_admin(
                lambda w: f"/admin/actions/action/{w.map_contact.pk}/change/",
                lambda w, t, field=field: action_form(w, t, field),
            ),
        )
        for field in ("config__attributes", "config__number", "name")
    ),
    *(
        Entry(
            f"admin HTTP action {field}",
            ['{"X-Key": §}', '{"a": §}'],
            send_admin(
                lambda w: f"/admin/actions/action/{w.http_action.pk}/change/",
                lambda w, t, field=field: http_action_form(w, t, field),
            ),
        )
        for field in ("config__headers", "config__body")
    ),
    Entry(
        "admin contact attributes",
        ['{"city": §}'],
        send_admin(
            lambda w: "/admin/crm/contact/add/", lambda w, t: contact_form(w, t, "attributes")
        ),
    ),
    Entry(
        "admin channel credentials",
        ['{"url": "https://push.example/api", "token": §, "application": "1"}'],
        send_admin(
            lambda w: "/admin/teambox/channel/add/", lambda w, t: channel_form(w, t, "credentials")
        ),
    ),
]


@dataclass
class World:
    project: Project
    connector: Connector
    step: Step
    map_contact: Action
    http_action: Action
    channel: Channel
    client: object
    api: object


@pytest.fixture
def world(project, client):
    connector = build_connector(
        project,
        name="Leads",
        steps=[
            {
                "name": "Map",
                "actions": [
                    ("map_contact", {"number": "{{ event.phone }}"}),
                    ("http_request", {"method": "POST", "url": "https://example.com/leads"}),
                ],
            }
        ],
    )
    step = connector.steps.get()
    channel = Channel.objects.create(
        project=project,
        name="Push",
        kind=Channel.Kind.PUSH_API,
        credentials={"url": "https://push.example/api", "token": "t", "application": "1"},
    )
    # An admin of the project; no password to hash: the client logs in directly.
    admin = get_user_model().objects.create_user("admin", is_staff=True)
    Membership.objects.create(project=project, user=admin, role=Membership.Role.ADMIN)
    client.force_login(admin)
    return World(
        project=project,
        connector=connector,
        step=step,
        map_contact=step.actions.get(type="map_contact"),
        http_action=step.actions.get(type="http_request"),
        channel=channel,
        client=client,
        api=api_client(project),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_json_is_refused_clearly_and_writes_nothing(world, entry, data):
    text = data.draw(texts(entry.templates), label="text")
    # Each example in a savepoint of its own: what one stores does not change the next.
    with transaction.atomic():
        before = snapshot()
        refused = entry.send(world, text)
        if refused:
            unchanged_but_rejected_events(before, snapshot())
        transaction.set_rollback(True)


# What each entry point answers, in the words its user reads -----------------------------

NUL_IN = "holds a NUL character (\\u0000), which cannot be stored."


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path, body, field, message",
    [
        ("post", "/api/v1/connectors", {"name": "a\x00b"}, "name", f"'name' {NUL_IN}"),
        (
            "patch",
            "/api/v1/connectors/{connector}",
            {"field_mapping": {"number": "\x00"}},
            "field_mapping",
            f"'field_mapping.number' {NUL_IN}",
        ),
        (
            "post",
            "/api/v1/connectors/import",
            {"format": "picky.connector/v1", "name": "X", "steps": [{"name": "\x00"}]},
            "steps",
            f"'steps[0].name' {NUL_IN}",
        ),
        (
            "patch",
            "/api/v1/project",
            {"time_zone": "Asia/\ud800"},
            "time_zone",
            "'time_zone' holds an unpaired UTF-16 surrogate (\\ud800)",
        ),
    ],
)
def test_the_api_names_the_field_that_cannot_be_stored(world, method, path, body, field, message):
    before = snapshot()
    response = getattr(world.api, method)(
        path.format(connector=world.connector.pk),
        data=json.dumps(body).encode(),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 10000 + "]" * 10000, "The JSON is nested over 200 levels deep."),
        ('{"n": NaN}', "NaN is not valid JSON"),
        ('{"n": 1e999}', "The number 1e999 is out of range."),
        ('{"\\u0000": 1}', "The key '\\x00' holds a NUL character"),
        ('["\\ud800"]', "The value at '[0]' holds an unpaired UTF-16 surrogate"),
        ("{", "Not valid JSON: Expecting property name"),
    ],
)
def test_the_api_refuses_a_body_it_cannot_store(world, text, message):
    response = world.api.post(
        "/api/v1/connectors/import", data=text.encode(), content_type="application/json"
    )
    assert response.status_code == 400
    assert message in response.json()["detail"]


@pytest.mark.django_db
def test_an_imported_name_given_in_the_query_is_checked_too(world):
    response = world.api.post(
        "/api/v1/connectors/import?name=a%00b",
        data=json.dumps({"format": "picky.connector/v1", "name": "X"}).encode(),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "name", "message": "holds a NUL character (\\u0000), which cannot be stored"}
    ]


@pytest.mark.django_db
def test_the_api_takes_json_only(world):
    response = world.api.post("/api/v1/connectors", {"name": "Form"}, format="multipart")
    assert response.status_code == 415
    assert not Connector.objects.filter(name="Form").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text, message",
    [
        ('{"number": "919847012345", "message": ' + "[" * 10000 + "]" * 10000 + "}", "nested"),
        ('{"number": "919847012345", "message": NaN}', "NaN is not valid JSON"),
        ('{"number": "919847012345", "message": 1e999}', "The number 1e999 is out of range."),
        ('{"number": "919847012345", "message": "a\\u0000"}', f"'message' {NUL_IN}"),
        ('{"number": "919847012345", "message": "\\udc00"}', "unpaired UTF-16 surrogate"),
    ],
)
def test_a_channel_webhook_refuses_what_it_cannot_store_with_a_400(world, text, message):
    response = world.client.post(
        world.channel.webhook_path, data=text.encode(), content_type="application/json"
    )
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not Message.objects.exists() and not Contact.objects.exists()


@pytest.mark.django_db
def test_a_channel_webhook_form_with_a_nul_is_a_400(world):
    response = world.client.post(
        world.channel.webhook_path,
        data="number=919847012345&message=a%00b",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert f"'message' {NUL_IN}" in response.json()["message"]


DEEP = "[" * 10000 + "]" * 10000


@pytest.mark.django_db
def test_simulate_shows_deep_nesting_as_a_form_error(world):
    response = world.client.post(
        f"/admin/connectors/connector/{world.connector.pk}/simulate/", {"payload": DEEP}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["payload"] == [
        "The JSON is nested over 200 levels deep."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "document, message",
    [
        (DEEP, "The JSON is nested over 200 levels deep."),
        (
            '{"format": "picky.connector/v1", "name": "X", "steps": [{"name": "\\u0000"}]}',
            f"The value at 'steps[0].name' {NUL_IN}",
        ),
    ],
)
def test_the_import_page_shows_what_cannot_be_stored_as_a_form_error(world, document, message):
    before = snapshot()
    response = world.client.post(
        "/admin/connectors/connector/import/",
        {"project": world.project.pk, "document": document, "name": ""},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["__all__"] == [message]
    assert snapshot() == before


@pytest.mark.django_db
def test_an_action_config_with_a_nul_is_a_field_error(world):
    action = Action.objects.create(
        step=world.step, position=2, type="set_variable", config={"name": "x", "value": "1"}
    )
    response = world.client.post(
        f"/admin/actions/action/{action.pk}/change/",
        {"enabled": "on", "config__name": "x", "config__value": "a\x00b"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["config__value"] == [f"The value {NUL_IN}"]
    action.refresh_from_db()
    assert action.config == {"name": "x", "value": "1"}


@pytest.mark.django_db
def test_a_contact_attribute_that_is_not_a_number_is_a_field_error(world):
    response = world.client.post(
        "/admin/crm/contact/add/", contact_form(world, '{"score": NaN}', "attributes")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["attributes"] == [
        "NaN is not valid JSON; send a number or null."
    ]
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_the_import_command_says_what_cannot_be_stored(world):
    text = '{"format": "picky.connector/v1", "name": "X", "field_mapping": {"name": NaN}}'
    with pytest.raises(CommandError, match="^-: NaN is not valid JSON; send a number or null.$"):
        call_command("import_connector", "-", project="acme", stdin=io.StringIO(text))
    assert not Connector.objects.filter(name="X").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("attribute", ["a\x00b", "city=a\x00b"])
def test_an_attribute_filter_with_a_nul_matches_no_contact(world, attribute):
    Contact.objects.create(project=world.project, number="919847012345", attributes={"a": 1})
    response = world.client.get("/admin/crm/contact/", {"attribute": attribute})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
