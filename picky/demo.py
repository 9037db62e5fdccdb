"""The embedded demo: a project, an admin user, a connector that thanks each lead on a
sandbox channel (idempotent). Demo wiring, so it may import the apps (DESIGN.md "Layout")."""

from django.contrib.auth import get_user_model
from django.db import transaction

from actions.models import Action
from connectors.models import Connector, Step
from teambox.models import Channel

from .models import Membership, Project

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-picky"
DEMO_PROJECT_SLUG = "demo"
DEMO_CONNECTOR_NAME = "Website leads"
DEMO_CHANNEL_NAME = "Sandbox"
DEMO_STEP_NAME = "Thank the lead"


@transaction.atomic
def setup_demo():
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_USERNAME,
        defaults={"is_staff": True, "is_superuser": True, "email": "demo@picky.local"},
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
