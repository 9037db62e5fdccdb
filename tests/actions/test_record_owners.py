"""Record owners set by connectors: record_add's Owner and record_update's Set the owner
give records to nobody, a named member (a template looked up at run) or an agent picked
from the team as the routing rules pick one, round robin going on from run to run in the
team's pool; checked on save and at run, on the record's timeline, and a simulation that
leaves the pool where it was."""

import pytest
from django.db import connection

from actions.base import Effect
from actions.registry import get_type
from connectors import engine, services
from connectors.models import Run, RunLog
from crm.records.models import Field, Module, Record, RecordEntry
from crm.signals import record_changed
from teambox.models import AssignmentPool, Department
from tests.actions.test_record_actions import refusal, run_actions
from tests.builders import build_agent, build_connector
from tests.teambox.test_assignment_parallel import in_parallel

pytestmark = pytest.mark.django_db

LEAD = {"module": "Enquiries", "values": {"title": "{{ event.name }}"}}
FROM_THE_TEAM = {
    **LEAD,
    "owner": "team",
    "owner_departments": ["Sales"],
    "owner_strategy": "round_robin",
}


@pytest.fixture
def leads(project):
    module = Module.objects.create(project=project, name="Enquiries")
    Field.objects.create(module=module, key="title", label="Title", required=True)
    Field.objects.create(module=module, key="stage", label="Stage")
    return module


@pytest.fixture
def changes():
    """The record_changed signals sent, as (change, record id)."""
    sent = []

    def note(sender, record, change, **kwargs):
        sent.append((change, record["id"]))

    record_changed.connect(note)
    yield sent
    record_changed.disconnect(note)


@pytest.fixture
def sales(project):
    return Department.objects.create(project=project, name="Sales")


@pytest.fixture
def team(project, sales):
    """Three online agents of Sales, in the order round robin takes them, and one of
    Support."""
    support = Department.objects.create(project=project, name="Support")
    agents = [build_agent(project, name, departments=[sales]) for name in ("anu", "bala", "chitra")]
    build_agent(project, "dev", departments=[support])
    return [agent.user for agent in agents]


def add_lead(project, config, name="Asha"):
    """Run record_add with `config` on a lead called `name`: (run, its action log line)."""
    run, logs = run_actions(project, [[("record_add", config)]], {"name": name})
    return run, logs[0]


class TestNamedMember:
    def test_a_member_by_username_whatever_its_case_owns_the_record(self, project, leads, team):
        run, log = add_lead(project, {**LEAD, "owner": "member", "owner_member": "Bala"})

        assert run.status == Run.Status.SUCCEEDED, log.error
        assert Record.objects.get(module=leads).owner == team[1]
        assert log.outputs["owner"] == "bala"

    def test_a_template_names_the_member_by_e_mail_when_the_action_runs(self, project, leads, team):
        config = {**LEAD, "owner": "member", "owner_member": "{{ event.agent }}"}
        get_type("record_add").validate(config, project=project)
        connector_run, logs = run_actions(
            project, [[("record_add", config)]], {"name": "Asha", "agent": "chitra@shop.example"}
        )

        assert connector_run.status == Run.Status.SUCCEEDED
        assert Record.objects.get(module=leads).owner == team[2]
        assert logs[0].outputs["owner"] == "chitra"

    def test_a_member_the_project_lacks_is_refused_on_save_listing_its_members(
        self, project, leads, team
    ):
        errors = refusal("record_add", {**LEAD, "owner": "member", "owner_member": "zed"}, project)

        assert list(errors) == ["owner_member"]
        assert "is called 'zed'" in errors["owner_member"][0]
        assert "anu, bala, chitra" in errors["owner_member"][0]

    def test_a_template_naming_no_member_fails_the_step_and_adds_nothing(
        self, project, leads, team
    ):
        config = {**LEAD, "owner": "member", "owner_member": "{{ event.agent }}"}
        run, logs = run_actions(project, [[("record_add", config)]], {"name": "A", "agent": "zed"})

        assert run.status == Run.Status.FAILED
        assert "is called 'zed'" in logs[0].error and "anu, bala, chitra" in logs[0].error
        assert not Record.objects.exists()

    def test_the_settings_of_another_way_are_refused_at_their_own_box(self, project, leads):
        assert list(refusal("record_add", {**LEAD, "owner": "member"}, project)) == ["owner_member"]
        assert list(refusal("record_add", {**LEAD, "owner_member": "anu"}, project)) == [
            "owner_member"
        ]
        team_only = {**LEAD, "owner": "member", "owner_member": "x", "owner_departments": ["S"]}
        assert "owner_departments" in refusal("record_add", team_only, project)
        wrong = refusal("record_add", {**LEAD, "owner": "anu"}, project)
        assert wrong["owner"] == [
            "“anu” is not a way to set the owner; choose nobody, member, team (a member is "
            "named in owner_member)."
        ]


class TestPickedFromTheTeam:
    def test_round_robin_goes_on_from_run_to_run(self, project, leads, team):
        owners = [
            add_lead(project, FROM_THE_TEAM, f"Lead {n}")[1].outputs["owner"] for n in range(4)
        ]

        assert owners == ["anu", "bala", "chitra", "anu"]
        assert [record.owner for record in Record.objects.order_by("id")] == [*team, team[0]]

    def test_departments_narrow_the_pick(self, project, leads, team):
        config = {**FROM_THE_TEAM, "owner_departments": ["Support"]}
        get_type("record_add").validate(config, project=project)

        owners = {add_lead(project, config)[1].outputs["owner"] for _ in range(3)}

        assert owners == {"dev"}

    def test_an_unknown_department_is_refused_on_save(self, project, leads, team):
        errors = refusal("record_add", {**FROM_THE_TEAM, "owner_departments": ["Billing"]}, project)

        assert errors["owner_departments"][0].startswith(
            "No department of this project is called 'Billing'."
        )

    def test_nobody_online_adds_the_record_without_an_owner_with_a_warning(
        self, project, leads, sales
    ):
        build_agent(project, "anu", online=False, departments=[sales])

        run, log = add_lead(project, FROM_THE_TEAM)

        assert run.status == Run.Status.SUCCEEDED
        assert log.status == RunLog.Status.SKIPPED
        assert log.error == (
            "No agent of Sales is online, so the record was added without an owner."
        )
        record = Record.objects.get(module=leads)
        assert record.owner is None and log.outputs["id"] == record.pk

    def test_nobody_online_fails_the_step_when_the_action_says_so(self, project, leads):
        build_agent(project, "anu", online=False)

        config = {**FROM_THE_TEAM, "owner_departments": [], "if_no_agent": "fail"}
        run, log = add_lead(project, config)

        assert run.status == Run.Status.FAILED
        assert log.error == "No agent of the team is online, so the record was not added."
        assert not Record.objects.exists()

    def test_presence_both_picks_an_offline_agent(self, project, leads):
        offline = build_agent(project, "anu", online=False)

        config = {**FROM_THE_TEAM, "owner_departments": [], "owner_presence": "both"}
        run, log = add_lead(project, config)

        assert log.outputs["owner"] == "anu"
        assert Record.objects.get().owner == offline.user

    def test_a_pick_is_a_shared_row_that_commits_at_once(self):
        record_add = get_type("record_add")
        assert record_add.effect_of(FROM_THE_TEAM) == Effect.SHARED_ROW
        assert record_add.effect_of({**LEAD, "owner": "member"}) == Effect.DATABASE
        assert get_type("record_update").effect_of({"owner": "team"}) == Effect.SHARED_ROW

    def test_a_simulation_does_not_move_the_round_robin_on(self, project, leads, team):
        add_lead(project, FROM_THE_TEAM)
        pool = AssignmentPool.objects.values("last_agent_id", "picks").get()
        connector = build_connector(
            project,
            name="Simulated",
            steps=[{"actions": [("record_add", get_type("record_add").validate(FROM_THE_TEAM))]}],
        )

        simulation = engine.simulate(connector, {"name": "Simulated"})
        (shown,) = [log for log in simulation.logs if log["kind"] == RunLog.Kind.ACTION]

        assert shown["outputs"]["owner"] == "bala"  # what the run would give
        assert AssignmentPool.objects.values("last_agent_id", "picks").get() == pool
        assert Record.objects.count() == 1
        assert add_lead(project, FROM_THE_TEAM)[1].outputs["owner"] == "bala"


class TestRecordUpdate:
    def update(self, project, **settings):
        """Run record_update on the leads at stage new: (run, its action log line)."""
        config = {
            "module": "Enquiries",
            "criteria": [[{"field": "stage", "op": "equals", "value": "new"}]],
            "values": {"stage": "called"},
            **settings,
        }
        run, logs = run_actions(project, [[("record_update", config)]])
        return run, logs[0]

    def test_sets_the_owner_on_the_timeline_and_leaves_it_unchanged_by_default(
        self, project, leads, team
    ):
        first = Record.objects.create(
            project=project, module=leads, data={"title": "A", "stage": "new"}, owner=team[0]
        )

        run, log = self.update(project)
        first.refresh_from_db()
        assert (first.owner, log.outputs) == (team[0], {"count": 1})

        first.data["stage"] = "new"
        first.save()
        run, log = self.update(project, owner="member", owner_member="bala")

        first.refresh_from_db()
        assert first.owner == team[1]
        assert log.outputs == {"count": 1, "owner": "bala"}
        line = first.entries.filter(kind=RecordEntry.Kind.CHANGE).order_by("-id").first()
        assert line.text == "Stage: new → called; Owner: anu → bala"

    def test_nobody_takes_the_owner_away_which_starts_the_update_workflows(
        self, project, leads, team, changes, django_capture_on_commit_callbacks
    ):
        record = Record.objects.create(
            project=project, module=leads, data={"title": "A", "stage": "new"}, owner=team[0]
        )

        with django_capture_on_commit_callbacks(execute=True):
            run, log = self.update(project, owner="nobody", values={"stage": "new"})

        record.refresh_from_db()
        assert record.owner is None and log.outputs == {"count": 1, "owner": ""}
        assert record.entries.order_by("-id").first().text == "Owner: anu → (empty)"
        assert changes == [("updated", record.pk)]

    def test_a_pick_that_updates_no_record_leaves_the_round_robin_where_it_was(
        self, project, leads, team
    ):
        run, log = self.update(project, owner="team", owner_departments=["Sales"])

        assert log.outputs == {"count": 0, "owner": ""}
        assert not AssignmentPool.objects.filter(last_agent_id__isnull=False).exists()
        assert add_lead(project, FROM_THE_TEAM)[1].outputs["owner"] == "anu"


def test_an_owner_changed_on_the_record_page_is_on_its_timeline(client, member, project, leads):
    client.force_login(member)
    record = Record.objects.create(project=project, module=leads, data={"title": "Asha"})
    form = {"owner": str(member.pk), "contact": "", "note": "", "data__title": "Asha"}

    response = client.post(f"/admin/crm/record/{record.pk}/change/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    record.refresh_from_db()
    assert record.owner == member
    assert record.entries.get().text == "Owner: (empty) → member"
    assert record.entries.get().author == member


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_parallel_runs_never_give_one_agent_two_records_in_a_row(project, leads, team):
    config = get_type("record_add").validate(FROM_THE_TEAM)
    steps = [{"actions": [("record_add", config)]}]
    connector = build_connector(project, name="Parallel", steps=steps)

    def run(n):
        event = services.record_event(
            connector, {"name": f"Lead {n}"}, method="POST", headers={}, source_ip=None
        )
        engine.process_event(event.pk)

    in_parallel(run, list(range(24)), clients=6)

    # The pool stays locked from the pick to the run's commit, the record's insert
    # included: the records' order is the picks'.
    owners = list(Record.objects.order_by("id").values_list("owner__username", flat=True))
    assert owners == ["anu", "bala", "chitra"] * 8
