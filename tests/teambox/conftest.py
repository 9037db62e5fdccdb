import pytest

from crm import services as crm
from picky.models import Membership
from teambox.assignment import assign_users
from teambox.conversations import open_conversation
from teambox.models import Channel, Department
from tests.builders import build_agent


@pytest.fixture
def push(project, httpserver, local_outbound):
    return Channel.objects.create(
        project=project,
        name="Push",
        kind=Channel.Kind.PUSH_API,
        credentials={
            "url": httpserver.url_for("/api/v2/push"),
            "token": "push-token",
            "application": "1",
        },
    )


@pytest.fixture
def email_channel(project):
    return Channel.objects.create(
        project=project,
        name="Mail",
        kind=Channel.Kind.EMAIL,
        credentials={"from_email": "Shop <hello@shop.example>", "subject": "From the shop"},
    )


@pytest.fixture
def asha(project):
    return crm.upsert_contact(project, "919847012345", name="Asha", email="asha@example.com")


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process (on_commit callbacks still need capturing in tests)."""
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def team(project, sandbox):
    """For the teambox pages: agents anita (Sales) and bala (Support), an admin (meera),
    and chats: a_own (assigned to anita), sales and support (unassigned, in those
    departments) and nobody (unassigned, no department)."""
    sales = Department.objects.create(project=project, name="Sales")
    support = Department.objects.create(project=project, name="Support")
    a = build_agent(project, "anita", departments=[sales]).user
    b = build_agent(project, "bala", departments=[support]).user
    boss = build_agent(project, "meera", role=Membership.Role.ADMIN).user

    def chat(number, department=None):
        contact = crm.upsert_contact(project, number, name=f"Lead {number[-2:]}")
        conversation, _ = open_conversation(sandbox, contact)
        conversation.department = department
        conversation.save(update_fields=["department"])
        return conversation

    chats = {
        "a_own": chat("919800000001", sales),
        "sales": chat("919800000002", sales),
        "support": chat("919800000003", support),
        "nobody": chat("919800000004"),
    }
    assign_users(chats["a_own"], [a])
    return {"a": a, "b": b, "boss": boss, "chats": chats}
