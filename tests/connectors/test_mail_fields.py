"""The parsing template of inbound mail (connectors/mail_fields.py): rules applied as a mail
becomes an event (SMTP and HTTP), refused at save at their row, exported and imported, and
tried on the connector page against a pasted mail."""

import json
import smtplib

import pytest

from connectors import engine, transfer
from connectors.admin.forms import ConnectorForm
from connectors.inbound_mail import mail_address, mail_payload
from connectors.mail_fields import MATCHES_MAX, extract_fields, mail_fields_errors
from connectors.models import Connector, Event, Run
from tests.builders import build_connector
from tests.connectors.test_inbound_mail import listener, order_mail  # noqa: F401 (fixture)

RULES = [
    {"name": "order", "where": "subject", "pattern": r"#(\S+)"},
    {"name": "total", "where": "text", "pattern": r"total (?P<value>[\d,.]+)"},
    {"name": "buyer", "where": "html", "pattern": r"for (\w+)"},
    {"name": "shop", "where": "from", "pattern": r"@([\w.]+)"},
    {"name": "amounts", "where": "text", "pattern": r"\d+", "all": True},
    {"name": "coupon", "where": "text", "pattern": r"coupon (\w+)"},
]
RAW = (
    b"From: Shop <orders@shop.example>\r\nTo: x@in.picky.test\r\nSubject: New order #A-1047\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<p>Order for <b>Asha</b> &amp; co,</p><p>total 1,250.00 &lt;INR&gt;</p>\r\n"
)


def test_rules_take_fields_out_of_a_mail():
    payload = mail_payload(order_mail("x@in.picky.test").as_bytes())
    fields = extract_fields(RULES, payload)
    assert fields == {
        "order": "A-1047",
        "total": "1,250.00",
        "buyer": "Asha",
        "shop": "shop.example",
        "amounts": ["1047", "1", "250", "00"],
        "coupon": "",  # matches nothing: an empty text, the mail kept
    }


def test_the_html_body_is_read_as_text():
    payload = mail_payload(RAW)
    assert payload["text"] == ""
    rules = [
        {"name": "buyer", "where": "html", "pattern": r"for (\w+) & co"},
        {"name": "currency", "where": "html", "pattern": r"<(\w+)>"},
        {"name": "lines", "where": "html", "pattern": r"(?m)^(\S.*)$", "all": True},
    ]
    assert extract_fields(rules, payload) == {
        "buyer": "Asha",
        "currency": "INR",
        "lines": ["Order for Asha & co,", "total 1,250.00 <INR>"],
    }


def test_an_all_rule_keeps_at_most_matches_max():
    payload = {"text": "7 " * (MATCHES_MAX + 5)}
    rule = {"name": "n", "where": "text", "pattern": r"\d", "all": True}
    fields = extract_fields([rule], payload)
    assert fields == {"n": ["7"] * MATCHES_MAX}


def test_bad_rules_are_named_at_their_row():
    errors = mail_fields_errors(
        [
            {"name": "order", "where": "subject", "pattern": r"(?=#)(\S+)"},
            {"name": "1st", "where": "body", "pattern": "", "all": "yes", "extra": 1},
            {"name": "order", "where": "text", "pattern": "x"},
        ]
    )
    assert errors[0][0] == 0 and "look-ahead" in errors[0][1]
    row_two = [message for index, message in errors if index == 1]
    assert [message.split(":")[0] for message in row_two] == [
        "Unknown setting extra; known",
        "Field name",
        "Look in",
        "Pattern",
        "All matches",
    ]
    assert errors[-1] == (2, "Field name: order is already a field of this template.")
    assert mail_fields_errors("x") == [(None, "The parsing template must be a list of rules.")]


def form_data(connector, rules):
    return {
        "project": connector.project_id,
        "name": connector.name,
        "description": "",
        "enabled": "on",
        "trigger": "webhook",
        "field_mapping": "{}",
        "mail_fields": json.dumps(rules),
    }


@pytest.mark.django_db
def test_the_form_refuses_a_bad_pattern_at_its_row_and_saves_good_rows(connector):
    bad = [{"name": "order", "where": "subject", "pattern": "(a"}]
    form = ConnectorForm(form_data(connector, bad), instance=connector)
    assert not form.is_valid()
    assert form.errors["mail_fields"][0].startswith("Field 1: Pattern: This is not a valid")
    rows = [{"name": "order", "where": "subject", "pattern": "#(\\S+)", "all": ""},
            {"name": "codes", "where": "text", "pattern": "\\d+", "all": "true"}]  # fmt: skip
    form = ConnectorForm(form_data(connector, rows), instance=connector)
    assert form.is_valid(), form.errors
    form.save()
    connector.refresh_from_db()
    assert connector.mail_fields == [
        {"name": "order", "where": "subject", "pattern": "#(\\S+)"},
        {"name": "codes", "where": "text", "pattern": "\\d+", "all": True},
    ]


def test_a_real_mail_through_the_listener_gives_event_fields(listener, project):  # noqa: F811
    connector = build_connector(
        project,
        mail_fields=RULES,
        steps=[{"actions": [("set_variable", {"name": "seen", "value": "order "
                                              "{{ event.fields.order }} by {{ event.fields.buyer }}"
                                              " [{{ event.fields.coupon }}]"})]}],
    )  # fmt: skip
    with smtplib.SMTP(listener.hostname, listener.port) as client:
        assert client.send_message(order_mail(mail_address(connector))) == {}
    event = Event.objects.get(connector=connector)
    assert event.payload["fields"]["total"] == "1,250.00"
    engine.process_event(event.pk)
    assert Run.objects.get(event=event).context["vars"] == {"seen": "order A-1047 by Asha []"}


@pytest.mark.django_db
def test_a_provider_post_gets_the_fields_too(client, project):
    connector = build_connector(project, mail_fields=RULES[:1])
    body = {"FromFull": {"Email": "a@b.example"}, "Subject": "Order #Z-9", "TextBody": "hi"}
    response = client.post(
        f"/hooks/{connector.token}/mail", json.dumps(body), content_type="application/json"
    )
    event = Event.objects.get(pk=response.json()["event"])
    assert event.payload["fields"] == {"order": "Z-9"}
    plain = build_connector(project, name="Plain")
    response = client.post(
        f"/hooks/{plain.token}/mail", json.dumps(body), content_type="application/json"
    )
    assert "fields" not in Event.objects.get(pk=response.json()["event"]).payload


@pytest.mark.django_db
def test_export_and_import_carry_the_template(project):
    connector = build_connector(project, mail_fields=RULES)
    document = transfer.export_connector(connector)
    assert document["mail_fields"] == RULES
    copy = transfer.import_connector(project, document, name="Copy")
    assert Connector.objects.get(pk=copy.pk).mail_fields == RULES
    assert "mail_fields" not in transfer.export_connector(build_connector(project, name="Plain"))
    document["mail_fields"] = [{"name": "x", "where": "subject", "pattern": "(?<=a)b"}]
    with pytest.raises(transfer.ConnectorImportError) as refused:
        transfer.import_connector(project, document, name="Bad")
    assert refused.value.errors[0][0] == "mail_fields[0]"
    assert "look-behind" in refused.value.errors[0][1]


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def try_mail(client, connector, mail, rules):
    return client.post(
        f"/admin/connectors/connector/{connector.pk}/mail-fields-test/",
        json.dumps({"mail": mail, "rules": rules}),
        content_type="application/json",
    )


def test_the_test_box_endpoint(member_client, connector, other_project):
    mail = RAW.decode()
    answer = try_mail(member_client, connector, mail, RULES[:1] + [RULES[2]])
    assert answer.status_code == 200
    assert answer.json() == {"fields": {"order": "A-1047", "buyer": "Asha"}}
    bad = try_mail(member_client, connector, mail, [{"name": "o", "where": "x", "pattern": "a"}])
    assert bad.status_code == 400
    assert bad.json() == {"errors": ["Field 1: Look in: one of subject, text, html, from."]}
    assert try_mail(member_client, connector, " ", []).json() == {
        "errors": ["Paste a mail to test against."]
    }
    theirs = Connector.objects.create(project=other_project, name="Theirs")
    assert try_mail(member_client, theirs, mail, []).status_code == 404
