import pytest
from django.contrib.auth import get_user_model

from connectors import engine
from connectors.models import Connector
from picky import dispatch
from picky.models import Membership, Project


@pytest.fixture(autouse=True)
def fresh_process_state():
    """A publish that failed in one test must not pause publishing in the next, and
    steps cached by one test must not serve another (rolled-back ids are reused)."""
    dispatch.reset()
    engine._steps_cache.clear()


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
