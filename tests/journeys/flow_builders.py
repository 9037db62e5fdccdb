"""Flows for the journeys tests, built as the admin saves them, and the contact's side of
the sandbox."""

import json

from crm import services as crm
from journeys.flows.models import BranchRow, Flow, FlowStep
from teambox.models import Message


def build_flow(project, name="Onboarding", steps=(), rows=(), **fields):
    """steps: dicts of FlowStep fields, in order; rows: dicts of BranchRow fields."""
    flow = Flow.objects.create(project=project, name=name, **fields)
    for position, step in enumerate(steps):
        FlowStep.objects.create(flow=flow, position=position, **step)
    for position, row in enumerate(rows):
        BranchRow.objects.create(flow=flow, position=position, **row)
    return flow


def onboarding(project, **fields):
    """Greets, asks the age (a number), branches on it, asks the e-mail address, tags."""
    return build_flow(
        project,
        steps=[
            {"name": "Hello", "kind": "message", "text": "Hi {{ contact.name }}!"},
            {"name": "Age", "kind": "question", "text": "How old are you?",
             "attribute": "age", "answer_type": "number",
             "retry_text": "A number please, {{ contact.name }}."},
            {"name": "Age check", "kind": "branch"},
            {"name": "Adult", "kind": "message", "text": "Welcome aboard.", "go_to": "Email"},
            {"name": "Young", "kind": "message", "text": "Ask a parent to write to us.",
             "go_to": "Done"},
            {"name": "Email", "kind": "question", "text": "Your e-mail?", "attribute": "email",
             "answer_type": "email"},
            {"name": "Tag", "kind": "add_tag", "tags": "Onboarded, Adult"},
            {"name": "Done", "kind": "end"},
        ],
        rows=[
            {"step": "Age check", "match": "less_than", "value": "18", "go_to": "Young"},
        ],
        **fields,
    )  # fmt: skip


def say(client, channel, number, text, name="Asha"):
    """The contact writes `text` on the sandbox channel (its webhook)."""
    response = client.post(
        channel.webhook_path,
        data=json.dumps({"number": number, "message": text, "name": name}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content


def sent_to(contact):
    """The texts sent to `contact`, oldest first."""
    return list(
        Message.objects.filter(contact=contact, direction=Message.Direction.OUT)
        .order_by("pk")
        .values_list("body", flat=True)
    )


def flow_lines(contact):
    """The contact's flow timeline lines, oldest first."""
    return [entry.text for entry in reversed(crm.timeline_of(contact)) if entry.kind == "flow"]
