"""The embedded demo: a project, an admin user and a connector (idempotent)."""

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Membership, Project

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-picky"
DEMO_PROJECT_SLUG = "demo"
DEMO_CONNECTOR_NAME = "Website leads"


@transaction.atomic
def setup_demo():
    from connectors.models import Connector

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
    return connector
