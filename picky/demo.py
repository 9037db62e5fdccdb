"""The embedded demo: a project, an admin user, a connector that thanks each lead on a
sandbox channel (idempotent). Demo wiring, so it may import the apps (DESIGN.md "Layout")."""

import json
import os
import sys

from django.contrib.auth import get_user_model
from django.db import transaction

from actions.models import Action
from connectors.models import Connector, Step
from connectors.versions import publish_connector
from teambox.models import Channel

from .models import Membership, Project

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-picky"
DEMO_PROJECT_SLUG = "demo"
DEMO_CONNECTOR_NAME = "Website leads"
DEMO_CHANNEL_NAME = "Sandbox"
DEMO_STEP_NAME = "Thank the lead"
SAMPLE_LEAD = {
    "name": "Asha Rao",
    "email": "asha@example.com",
    "phone": "+91 98470 12345",
    "state": "Kerala",
    "product": "Solar Lamp",
    "message": "Please call me",
}


@transaction.atomic
def setup_demo():
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_USERNAME,
        # An owner of the demo project, as a business user is: not a superuser, so the admin
        # shows what an owner sees.
        defaults={"is_staff": True, "email": "demo@picky.local"},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    project, _ = Project.objects.get_or_create(
        slug=DEMO_PROJECT_SLUG, defaults={"name": "Demo shop", "time_zone": "Asia/Kolkata"}
    )
    Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": Membership.Role.OWNER}
    )
    connector, _ = Connector.objects.get_or_create(
        project=project,
        name=DEMO_CONNECTOR_NAME,
        defaults={
            "field_mapping": {
                "number": "{{ event.phone }}",
                "name": "{{ event.name }}",
                "email": "{{ event.email }}",
                "attributes": {"state": "{{ event.state }}", "product": "{{ event.product }}"},
            }
        },
    )
    add_demo_messaging(project, connector)
    if connector.live_version_id is None:
        # Live as built here; the tour's edits then make a draft to publish.
        publish_connector(connector, user, note="The demo")
    return connector


def add_demo_messaging(project, connector):
    """A sandbox channel and a step that thanks each lead on it (messages show in the admin)."""
    Channel.objects.get_or_create(
        project=project, name=DEMO_CHANNEL_NAME, defaults={"kind": Channel.Kind.SANDBOX}
    )
    step, created = Step.objects.get_or_create(
        connector=connector,
        name=DEMO_STEP_NAME,
        defaults={"position": connector.steps.count()},
    )
    if created:
        Action.objects.create(
            step=step,
            position=0,
            name="Send a thank-you message",
            type="send_message",
            config={
                "channel": DEMO_CHANNEL_NAME,
                "to": ["{{ contact.number }}"],
                "text": "Hi {{ contact.name }}, thanks for asking about {{ event.product }}! "
                "We will call you soon.",
            },
        )


def demo_guide(connector, base_url, public_base_url):
    """How to try the demo, as `make run` prints it: where to log in, a lead to post, and
    commands that work as printed (the project's slug is the demo's)."""
    base = base_url.rstrip("/")
    url = f"{public_base_url.rstrip('/')}{connector.path}"
    project = connector.project
    python = python_command()
    return "\n".join(
        [
            f"  Admin:      {base}/admin/",
            f"  Teambox:    {base}/teambox/ (the agents' inbox)",
            f"  Login:      {DEMO_USERNAME} / {DEMO_PASSWORD}",
            f"  Project:    {project.name} (slug: {project.slug})",
            f"  Connector:  {url}",
            "  Post a lead to it:",
            f"    curl -X POST {url} -H 'Content-Type: application/json' \\",
            f"      -d '{json.dumps(SAMPLE_LEAD)}'",
            f"  API:        {base}/api/v1/ (docs: {base}/api/docs/)",
            "  An API token for the project:",
            f"    {python} manage.py create_api_token --project {project.slug} --name my-token",
        ]
    )


def python_command():
    """The interpreter as typed from the project folder (.venv/bin/python under make)."""
    relative = os.path.relpath(sys.executable)
    return sys.executable if relative.startswith("..") else relative
