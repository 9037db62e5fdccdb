import pytest
from django.contrib.auth import get_user_model

from connectors import engine
from connectors.models import Connector
from picky import dispatch, global_variables
from picky.models import Membership, Project
from teambox.models import Channel


@pytest.fixture(autouse=True)
def fresh_process_state():
    """A publish that failed in one test must not pause publishing in the next, and
    steps or globals cached by one test must not serve another (rolled-back ids are
    reused)."""
    dispatch.reset()
    engine._steps_cache.clear()
    global_variables._namespaces.clear()


@pytest.fixture
def project(db):
    return Project.objects.create(name="Acme", slug="acme", time_zone="Asia/Kolkata")


@pytest.fixture
def other_project(db):
    return Project.objects.create(name="Globex", slug="globex")


@pytest.fixture
def connector(project):
    return Connector.objects.create(project=project, name="Leads")


@pytest.fixture
def member(project):
    """A staff user who is an admin of `project` only."""
    user = get_user_model().objects.create_user("member", password="pw-member-1", is_staff=True)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
    return user


# Channels the messaging tests of every app send through.
@pytest.fixture
def local_outbound(settings):
    """Let the outbound client reach pytest-httpserver on 127.0.0.1."""
    settings.PICKY_OUTBOUND_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def sandbox(project):
    return Channel.objects.create(project=project, name="Sandbox", kind=Channel.Kind.SANDBOX)


@pytest.fixture
def cloud(project, httpserver, local_outbound):
    return Channel.objects.create(
        project=project,
        name="WhatsApp",
        kind=Channel.Kind.WHATSAPP_CLOUD,
        credentials={
            "phone_number_id": "106540352242922",
            "access_token": "EAAG-test-token",
            "verify_token": "verify-me-please",
            "app_secret": "app-secret",
            "base_url": httpserver.url_for("/v21.0"),
        },
    )
