"""The cancel_delay action type and the Schedules admin."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.forms import ValidationError

from actions.base import ActionContext, ActionError
from actions.models import Action
from actions.registry import get_type
from connectors import engine, services
from connectors.models import Run, RunLog, ScheduledStep
from tests.builders import build_connector

KOLKATA = ZoneInfo("Asia/Kolkata")
cancel_delay = get_type("cancel_delay")


def delayed(project, name):
    return build_connector(
        project,
        name=name,
        steps=[
            {
                "name": "Later",
                "delay": {
                    "mode": "fixed",
                    "amount": 1,
                    "unit": "days",
                    "identifier": "{{ event.key }}",
                },
            }
        ],
    )


def park(connector, key, **extra):
    event = services.record_event(
        connector, {"key": key, **extra}, method="POST", headers={}, source_ip=None
    )
    engine.process_event(event.pk)
    return Run.objects.get(event=event)


def context(project, connector=None, **event):
    return ActionContext(
        project=project, data={"event": event, "vars": {}, "contact": {}}, connector=connector
    )


@pytest.fixture
def meetings(project):
    webinars = delayed(project, "Webinars")
    demos = delayed(project, "Demos")
    with time_machine.travel(datetime(2025, 3, 1, 10, tzinfo=KOLKATA), tick=False):
        runs = {
            "w1": park(webinars, "M-1"),
            "w1b": park(webinars, "M-1"),
            "w2": park(webinars, "M-2"),
            "d1": park(demos, "M-1"),
        }
    return webinars, demos, runs


def statuses():
    return dict(ScheduledStep.objects.values_list("run_id", "status").order_by("run_id"))


@pytest.mark.django_db
class TestCancelDelayAction:
    def run(self, project, config, **kwargs):
        ctx = context(project, **kwargs)
        inputs = cancel_delay.render(ctx, cancel_delay.validate(config))
        return cancel_delay.run(ctx, inputs)

    def test_cancels_every_pending_delay_with_the_identifier(self, project, meetings):
        webinars, demos, runs = meetings
        config = {"targets": [{"connector": "Webinars", "identifier": "{{ event.id }}"}]}
        result = self.run(project, config, id="M-1")
        assert result.outputs == {
            "cancelled": 2,
            "targets": [{"connector": "Webinars", "identifier": "M-1", "count": 2}],
        }
        assert result.stop is False
        after = statuses()
        assert after[runs["w1"].pk] == after[runs["w1b"].pk] == "cancelled"
        assert after[runs["w2"].pk] == "pending"  # another meeting
        assert after[runs["d1"].pk] == "pending"  # another connector
        assert self.run(project, config, id="M-1").outputs["cancelled"] == 0

    def test_several_targets_and_stop(self, project, meetings):
        _, _, runs = meetings
        config = {
            "targets": [
                {"connector": "Webinars", "identifier": "{{ event.id }}"},
                {"connector": "Demos", "identifier": "{{ event.id }}"},
            ],
            "then": "stop",
        }
        result = self.run(project, config, id="M-1")
        assert result.outputs["cancelled"] == 3
        assert [t["count"] for t in result.outputs["targets"]] == [2, 1]
        assert result.stop is True
        assert statuses()[runs["w2"].pk] == "pending"

    def test_empty_connector_means_the_runs_own(self, project, meetings):
        webinars, _, runs = meetings
        result = self.run(project, {"targets": [{"identifier": "M-2"}]}, connector=webinars, id="x")
        assert result.outputs["cancelled"] == 1
        assert statuses()[runs["w2"].pk] == "cancelled"

    def test_unknown_connector_and_empty_identifier_fail_clearly(self, project, meetings):
        with pytest.raises(ActionError, match="No connector named 'Nope' in this project."):
            self.run(project, {"targets": [{"connector": "Nope", "identifier": "M-1"}]})
        with pytest.raises(ActionError, match="rendered empty"):
            self.run(
                project,
                {"targets": [{"connector": "Webinars", "identifier": "{{ event.missing }}"}]},
            )
        assert set(statuses().values()) == {"pending"}

    def test_config_errors_say_what_and_where(self):
        form = cancel_delay.form_class(
            data={
                "targets": [{"connector": "A"}, "B", {"identifier": "x", "extra": 1}],
                "then": "later",
            }
        )
        assert not form.is_valid()
        assert form.errors["targets"] == [
            "Target 1: the identifier is required.",
            "Target 2: an object with connector and identifier.",
            "Target 3: unknown keys extra.",
        ]
        assert "later is not one of the available choices" in form.errors["then"][0]
        assert cancel_delay.form_class(data={}).errors["targets"] == ["This field is required."]
        bad_template = cancel_delay.form_class(data={"targets": [{"identifier": "{{ a[ }}"}]})
        assert "Invalid path" in bad_template.errors["targets"][0]
        with pytest.raises(ValidationError):
            cancel_delay.validate({"targets": "M-1"})

    def test_in_a_connector_it_stops_the_cancelled_runs(self, project, meetings):
        _, _, runs = meetings
        canceller = build_connector(
            project,
            name="Cancel",
            steps=[
                {
                    "actions": [
                        (
                            "cancel_delay",
                            {
                                "targets": [
                                    {"connector": "Webinars", "identifier": "{{ event.id }}"}
                                ]
                            },
                        )
                    ]
                }
            ],
        )
        run = park(canceller, "x", id="M-1")
        assert run.status == Run.Status.SUCCEEDED
        stopped = Run.objects.get(pk=runs["w1"].pk)
        assert stopped.status == Run.Status.STOPPED
        assert stopped.error == (
            f"Delay cancelled by the Cancel Delay action of Cancel (run {run.pk})."
        )
        assert RunLog.objects.filter(run=stopped, status="stopped", step__name="Later").exists()

    def test_admin_links_point_to_the_target_schedules(self, project, meetings):
        webinars, demos, _ = meetings
        action = Action.objects.create(
            step=demos.steps.first(),
            type="cancel_delay",
            config={
                "targets": [
                    {"connector": "Webinars", "identifier": "x"},
                    {"identifier": "y"},
                    {"connector": "Webinars", "identifier": "z"},
                    {"connector": "Nope", "identifier": "z"},
                ]
            },
        )
        assert cancel_delay.admin_links(action) == [
            ("Schedules of Webinars", f"/admin/connectors/scheduledstep/?connector={webinars.pk}"),
            ("Schedules of Demos", f"/admin/connectors/scheduledstep/?connector={demos.pk}"),
        ]


URL = "/admin/connectors/scheduledstep/"


@pytest.fixture
def foreign(other_project):
    connector = delayed(other_project, "Theirs")
    with time_machine.travel(datetime(2025, 3, 1, 10, tzinfo=KOLKATA), tick=False):
        return park(connector, "M-1")


@pytest.mark.django_db
class TestSchedulesAdmin:
    def test_lists_only_the_members_projects(self, client, member, meetings, foreign):
        webinars, _, runs = meetings
        client.force_login(member)
        page = client.get(URL)
        assert page.status_code == 200
        shown = {row.run_id for row in page.context["cl"].result_list}
        assert shown == {run.pk for run in runs.values()}
        assert "Theirs" not in page.content.decode()
        filtered = client.get(URL, {"connector": webinars.pk, "q": "M-1"})
        assert {row.run_id for row in filtered.context["cl"].result_list} == {
            runs["w1"].pk,
            runs["w1b"].pk,
        }
        assert client.get(URL, {"connector": foreign.connector_id}).context["cl"].result_count == 0

    def test_pending_rows_by_default_and_history_on_demand(self, client, member, meetings):
        _, _, runs = meetings
        client.force_login(member)
        ScheduledStep.objects.filter(run=runs["w2"]).update(status="fired")

        def shown(**query):
            return {row.run_id for row in client.get(URL, query).context["cl"].result_list}

        assert runs["w2"].pk not in shown()
        assert shown(status="fired") == {runs["w2"].pk}
        assert shown(status="all") == {run.pk for run in runs.values()}

    def test_cancel_one_in_a_click(self, client, member, meetings, foreign):
        _, _, runs = meetings
        client.force_login(member)
        target = ScheduledStep.objects.get(run=runs["w2"])
        page = client.get(URL)
        assert f'name="cancel_schedule" value="{target.pk}"' in page.content.decode()
        response = client.post(URL + "?status=pending", {"cancel_schedule": target.pk})
        assert response.status_code == 302
        assert response["Location"].endswith("?status=pending")
        assert statuses()[runs["w2"].pk] == "cancelled"
        run = Run.objects.get(pk=runs["w2"].pk)
        assert (run.status, run.error) == ("stopped", "Delay cancelled in the admin by member.")
        # Another project's row is out of reach.
        theirs = ScheduledStep.objects.get(run=foreign)
        client.post(URL, {"cancel_schedule": theirs.pk})
        assert ScheduledStep.objects.get(pk=theirs.pk).status == "pending"

    def test_cancel_many_with_the_action(self, client, member, meetings, foreign):
        _, _, runs = meetings
        client.force_login(member)
        chosen = ScheduledStep.objects.filter(run__in=[runs["w1"], runs["d1"]])
        response = client.post(
            URL,
            {
                "action": "cancel_selected",
                "_selected_action": [row.pk for row in chosen],
                "index": 0,
            },
        )
        assert response.status_code == 302
        after = statuses()
        assert after[runs["w1"].pk] == after[runs["d1"].pk] == "cancelled"
        assert after[runs["w1b"].pk] == after[runs["w2"].pk] == "pending"
        assert ScheduledStep.objects.get(run=foreign).status == "pending"

    def test_rows_cannot_be_added_edited_or_bulk_deleted(self, client, member, meetings):
        client.force_login(member)
        row = ScheduledStep.objects.first()
        assert client.get(URL + "add/").status_code == 403
        page = client.get(f"{URL}{row.pk}/change/")
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        actions = client.get(URL).context["action_form"].fields["action"].choices
        assert [name for name, _ in actions if name] == ["run_selected_now", "cancel_selected"]

    def test_deleting_a_row_stops_its_run(self, client, meetings):
        _, _, runs = meetings
        admin = get_user_model().objects.create_superuser("root", password="pw-root-1")
        client.force_login(admin)
        row = ScheduledStep.objects.get(run=runs["w2"])
        client.post(f"{URL}{row.pk}/delete/", {"post": "yes"})
        assert not ScheduledStep.objects.filter(pk=row.pk).exists()
        assert Run.objects.get(pk=runs["w2"].pk).status == Run.Status.STOPPED
