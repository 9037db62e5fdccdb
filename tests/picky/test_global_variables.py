"""Global variables: kept in the admin by owners and admins, read by every template as
globals.<name> (a run reads no row while nothing changed, and the next run sees a change
with no restart), and set by the set_global action under a row lock."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors import engine, services
from connectors.models import Run, RunLog
from picky.global_variables import add_to_global, set_global
from picky.models import GlobalVariable, Membership, Project
from tests.builders import build_connector

Role = Membership.Role
ADD_URL = "/admin/picky/globalvariable/add/"


@pytest.fixture
def login(client, project):
    def as_role(role, of=project):
        user = get_user_model().objects.create_user(f"{role}-{of.slug}", is_staff=True)
        Membership.objects.create(project=of, user=user, role=role)
        client.force_login(user)
        return client

    return as_role


def run_payload(connector, payload):
    event = services.record_event(connector, payload, method="POST", headers={}, source_ip=None)
    engine.process_event(event.pk)
    return Run.objects.get(event=event)


def greeting_connector(project):
    return build_connector(
        project,
        steps=[{"actions": [("set_variable", {"name": "line", "value": "{{ globals.shop }}: "
                                               "{{ globals.rate }} / {{ globals.tiers.gold }}"})]}],
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_a_manager_adds_globals_of_each_kind(login, project, role):
    client = login(role)
    for name, kind, value in [
        ("shop", "text", "Acme Store"),
        ("rate", "number", " 12.50 "),
        ("tiers", "json", '{"gold": 10, "silver": 5}'),
    ]:
        response = client.post(
            ADD_URL, {"project": project.pk, "name": name, "kind": kind, "value": value}
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    values = dict(GlobalVariable.objects.values_list("name", "value"))
    assert values == {"shop": "Acme Store", "rate": 12.5, "tiers": {"gold": 10, "silver": 5}}
    project.refresh_from_db()
    assert project.globals_revision == 3
    page = client.get(
        f"/admin/picky/globalvariable/{GlobalVariable.objects.get(name='tiers').pk}/change/"
    )
    assert '"gold": 10' in page.content.decode()


@pytest.mark.django_db
def test_bad_values_and_names_are_field_errors(login, project):
    client = login(Role.ADMIN)
    for name, kind, value, problem in [
        ("rate", "number", "twelve", "&#x27;twelve&#x27; is not a number."),
        ("tiers", "json", '{"gold": 10,', "This is not JSON"),
        ("2fast", "text", "x", "is not a global&#x27;s name"),
    ]:
        response = client.post(
            ADD_URL, {"project": project.pk, "name": name, "kind": kind, "value": value}
        )
        assert response.status_code == 200
        assert problem in response.content.decode()
    assert not GlobalVariable.objects.exists()


@pytest.mark.django_db
def test_agents_and_other_projects_managers_see_no_global(login, project, other_project):
    GlobalVariable.objects.create(project=project, name="shop", value="Acme")
    assert login(Role.AGENT).get("/admin/picky/globalvariable/").status_code == 403
    client = login(Role.OWNER, of=other_project)
    page = client.get("/admin/picky/globalvariable/")
    assert page.status_code == 200 and "shop" not in page.content.decode()
    response = client.post(ADD_URL, {"project": project.pk, "name": "x", "kind": "text"})
    assert response.status_code == 200 and not GlobalVariable.objects.filter(name="x").exists()


@pytest.mark.django_db
def test_runs_read_globals_and_see_a_change_at_the_next_run(project):
    GlobalVariable.objects.create(project=project, name="shop", value="Acme")
    GlobalVariable.objects.create(project=project, name="rate", kind="number", value=12.5)
    GlobalVariable.objects.create(project=project, name="tiers", kind="json", value={"gold": 10})
    connector = greeting_connector(project)
    assert run_payload(connector, {}).context["vars"] == {"line": "Acme: 12.5 / 10"}

    # Unchanged: the next run reads no global.
    with CaptureQueriesContext(connection) as captured:
        run = run_payload(connector, {})
    assert run.context["vars"] == {"line": "Acme: 12.5 / 10"}
    assert not [q for q in captured.captured_queries if "picky_globalvariable" in q["sql"]]

    set_global(project, "rate", "13")  # numeric text, kept as a number
    assert run_payload(connector, {}).context["vars"] == {"line": "Acme: 13 / 10"}
    GlobalVariable.objects.filter(name="shop").delete()
    assert run_payload(connector, {}).context["vars"] == {"line": ": 13 / 10"}


SEEN = "{{ globals.total }} {{ globals.last_order.id }}"


@pytest.mark.django_db
def test_set_global_sets_adds_and_later_actions_read_the_new_value(project):
    GlobalVariable.objects.create(project=project, name="total", kind="number", value="0.1")
    connector = build_connector(
        project,
        steps=[{"actions": [
            ("set_global", {"name": "total", "operation": "add", "value": "{{ event.amount }}"}),
            ("set_global", {"name": "last_order", "value": "{{ event.order }}"}),
            ("set_variable", {"name": "seen", "value": SEEN}),
        ]}],
    )  # fmt: skip
    run = run_payload(connector, {"amount": "$0.20", "order": {"id": "A-7"}})
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.context["vars"] == {"seen": "0.3 A-7"}
    rows = {row.name: (row.kind, row.value) for row in GlobalVariable.objects.all()}
    assert rows == {"total": ("number", 0.3), "last_order": ("json", {"id": "A-7"})}


@pytest.mark.django_db
def test_set_global_refuses_what_the_globals_kind_cannot_hold(project):
    GlobalVariable.objects.create(project=project, name="rate", kind="number", value=1)
    GlobalVariable.objects.create(project=project, name="shop", value="Acme")
    connector = build_connector(
        project, steps=[{"actions": [("set_global", {"name": "rate", "value": "{{ event.x }}"})]}]
    )
    run = run_payload(connector, {"x": "lots"})
    assert run.status == Run.Status.FAILED
    log = RunLog.objects.get(run=run, kind="action")
    assert log.error == "The global rate holds a number; 'lots' is not one."
    adding = build_connector(
        project,
        name="Add",
        steps=[{"actions": [("set_global", {"name": "shop", "operation": "add", "value": 2})]}],
    )
    run = run_payload(adding, {})
    assert run.status == Run.Status.FAILED
    assert RunLog.objects.get(run=run, kind="action").error == (
        "The global shop holds text, not a number: nothing can be added to it."
    )
    assert GlobalVariable.objects.get(name="rate").value == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel connections")
def test_parallel_adds_all_count(project):
    adders, each = 4, 10
    start = threading.Barrier(adders)

    def adder():
        try:
            start.wait()
            for _ in range(each):
                add_to_global(Project.objects.get(pk=project.pk), "visits", 1)
        finally:
            connection.close()

    threads = [threading.Thread(target=adder) for _ in range(adders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert GlobalVariable.objects.get(name="visits").value == adders * each
    project.refresh_from_db()
    assert project.globals_revision == 1 + adders * each  # its creation, then each add
