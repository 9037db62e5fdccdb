"""The chatbot flow page: a flow is saved only as a whole that can run, each problem at its
field; smart replies and the contacts in flows have their pages."""

import pytest
from django.contrib.auth import get_user_model

from crm import services as crm
from journeys.flows import services as flows
from journeys.flows.models import BranchRow, Flow, FlowSession, FlowStep
from journeys.replies.models import SmartReply
from picky.models import Membership

from .flow_builders import onboarding

pytestmark = pytest.mark.django_db

STEP_FIELDS = ("name", "kind", "text", "answer_type", "choices", "attribute", "retry_text",
               "value", "tags", "agents", "departments", "go_to")  # fmt: skip


@pytest.fixture
def manager(client, project):
    user = get_user_model().objects.create_user("meera", is_staff=True)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
    client.force_login(user)
    return client


def flow_form(project, steps, rows=(), name="Menu"):
    """The add page's POST: the flow, its steps and its branch rows."""
    data = {"project": project.pk, "name": name, "timeout_minutes": 60, "timeout_message": ""}
    for prefix, items, fields in (
        ("steps", steps, STEP_FIELDS),
        ("branch_rows", rows, ("step", "match", "value", "go_to")),
    ):
        data |= {
            f"{prefix}-TOTAL_FORMS": len(items),
            f"{prefix}-INITIAL_FORMS": 0,
            f"{prefix}-MIN_NUM_FORMS": 0,
            f"{prefix}-MAX_NUM_FORMS": 1000,
        }
        for index, item in enumerate(items):
            defaults = {"answer_type": "text", "match": "contains"} if prefix == "steps" else {}
            values = {"position": index + 1, **defaults, **item}
            for field in (*fields, "position"):
                data[f"{prefix}-{index}-{field}"] = values.get(field, "")
    return data


MENU = [
    {"name": "Menu", "kind": "message", "text": "Reply SALES or SUPPORT."},
    {"name": "Pick", "kind": "branch", "go_to": "Menu"},
    {"name": "Sales", "kind": "add_tag", "tags": "Sales lead", "go_to": "Bye"},
    {"name": "Bye", "kind": "end"},
]


def test_a_flow_is_saved_with_its_steps_and_branch_rows(manager, project):
    rows = [{"step": "Pick", "match": "contains", "value": "sales, buy", "go_to": "Sales"}]
    response = manager.post("/admin/journeys/flow/add/", flow_form(project, MENU, rows))
    assert response.status_code == 302, response.context["errors"]
    flow = Flow.objects.get(name="Menu")
    assert list(flow.steps.values_list("name", "go_to")) == [
        ("Menu", ""),
        ("Pick", "Menu"),
        ("Sales", "Bye"),
        ("Bye", ""),
    ]
    assert BranchRow.objects.get().go_to == "Sales"


def test_a_dangling_go_to_and_a_step_without_content_are_refused_at_their_fields(manager, project):
    steps = [*MENU[:2], {**MENU[2], "tags": "", "go_to": "Goodbye"}, MENU[3]]
    rows = [{"step": "Menu", "match": "contains", "value": "sales", "go_to": "Sale"}]
    response = manager.post("/admin/journeys/flow/add/", flow_form(project, steps, rows))
    assert response.status_code == 200
    assert not Flow.objects.exists()
    steps_formset, rows_formset = (f.formset for f in response.context["inline_admin_formsets"])
    assert steps_formset.forms[2].errors == {
        "tags": ["Name the tags this step adds."],
        "go_to": ["There is no step called 'Goodbye' in this flow."],
    }
    assert steps_formset.forms[1].errors == {
        "kind": ["A branch step needs branch rows (below) that name it."]
    }
    assert rows_formset.forms[0].errors == {
        "step": ["'Menu' is not a branch step."],
        "go_to": ["There is no step called 'Sale' in this flow."],
    }
    assert rows_formset.non_form_errors() == [
        "Some steps need fixing: see the messages at them above."
    ]


def test_an_assign_step_naming_an_unknown_agent_is_refused(manager, project):
    steps = [{"name": "Hand over", "kind": "assign", "agents": "ghost"}]
    response = manager.post("/admin/journeys/flow/add/", flow_form(project, steps))
    steps_formset = response.context["inline_admin_formsets"][0].formset
    assert steps_formset.forms[0].errors == {
        "agents": [
            "No agent is called 'ghost'. It has no agents yet: add them under Teambox → Agents."
        ]
    }


def test_a_flow_without_steps_is_refused(manager, project):
    response = manager.post("/admin/journeys/flow/add/", flow_form(project, []))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][1].formset
    assert formset.non_form_errors() == ["A flow needs at least one step."]


def test_the_pages_of_flows_smart_replies_and_contacts_in_flows(manager, project, other_project):
    onboarding(project)
    onboarding(other_project, name="Theirs")
    SmartReply.objects.create(project=project, name="Prices", phrases="price", reply="See")
    listing = manager.get("/admin/journeys/flow/").content.decode()
    assert "Onboarding" in listing and "Theirs" not in listing
    page = manager.get(f"/admin/journeys/flow/{Flow.objects.get(name='Onboarding').pk}/change/")
    assert page.status_code == 200
    assert b'<datalist id="id_steps-0-go_to-steps"><option value="Hello">' in page.content
    assert manager.get(
        f"/admin/journeys/flow/{Flow.objects.get(name='Theirs').pk}/change/"
    ).status_code in (302, 404)
    assert b"Prices" in manager.get("/admin/journeys/smartreply/").content
    assert manager.get("/admin/journeys/flowsession/").status_code == 200
    assert FlowStep.objects.filter(flow__project=project).count() == 8


def test_deleting_a_contact_in_a_flow_takes_them_out_on_their_timeline(manager, project, sandbox):
    asha = crm.upsert_contact(project, "919847012345", name="Asha")
    session = flows.start_flow(onboarding(project), asha, channel=sandbox)
    response = manager.post(
        "/admin/journeys/flowsession/",
        {"action": "delete_selected", "_selected_action": [session.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not FlowSession.objects.exists()
    assert crm.timeline_of(asha)[0].text == "Onboarding: the flow was stopped"
