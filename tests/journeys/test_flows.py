"""Chatbot flows: starting, answers moving them on, checks, one flow per contact, silence."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from crm import services as crm
from journeys.flows import services as flows
from journeys.flows.checks import flow_problems
from journeys.flows.models import FlowSession
from journeys.sequences.models import Sequence, Subscription
from tests.builders import build_agent

from .flow_builders import build_flow, flow_lines, onboarding, say, sent_to

NUMBER = "919847012345"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def survey(project):
    step = {"name": "Rate", "kind": "question", "text": "Rate us 1-5", "attribute": "rating",
            "answer_type": "number"}  # fmt: skip
    return build_flow(project, name="Survey", steps=[step])


@pytest.fixture
def asha(project):
    return crm.upsert_contact(project, NUMBER, name="Asha")


@pytest.fixture
def answer(client, sandbox, django_capture_on_commit_callbacks):
    """The contact answers on the sandbox, through its webhook and teambox's signal."""

    def answer(text):
        with django_capture_on_commit_callbacks(execute=True):
            say(client, sandbox, NUMBER, text)

    return answer


def test_a_flow_greets_asks_and_waits_for_the_answer(project, sandbox, asha):
    flow = onboarding(project)
    session = flows.start_flow(flow, asha, channel=sandbox)
    assert session.step == "Age"
    assert sent_to(asha) == ["Hi Asha!", "How old are you?"]
    assert flow_lines(asha) == [
        "Onboarding: started on Sandbox",
        "Onboarding · Hello: sent “Hi Asha!”",
        "Onboarding · Age: asked “How old are you?”",
    ]


def test_answers_drive_the_flow_to_its_end(project, sandbox, asha, answer):
    flows.start_flow(onboarding(project), asha, channel=sandbox)
    answer("about thirty")
    assert sent_to(asha)[-1] == "A number please, Asha."
    assert FlowSession.objects.get(contact=asha).step == "Age"
    answer("34")
    assert sent_to(asha)[-2:] == ["Welcome aboard.", "Your e-mail?"]
    answer("not an address")
    assert "e-mail address" in sent_to(asha)[-1]
    answer("Asha@Shop.Example")
    asha.refresh_from_db()
    assert asha.attributes == {"age": 34, "email": "asha@shop.example"}
    assert crm.labels_of(asha)["tags"] == ["Adult", "Onboarded"]
    assert not FlowSession.objects.filter(contact=asha).exists()
    lines = flow_lines(asha)
    assert (
        "Onboarding · Age: “about thirty” is not a valid answer; sent “A number please, Asha.”"
        in lines
    )
    assert "Onboarding · Age check: “34” goes to Adult" in lines
    assert lines[-1] == "Onboarding · Done: the flow ended"


def test_a_number_row_compares_numbers_only(project):
    flow = build_flow(
        project,
        steps=[
            {"name": "Pick", "kind": "branch"},
            {"name": "High", "kind": "end"},
            {"name": "Low", "kind": "end"},
        ],
        rows=[{"step": "Pick", "match": "less_than", "value": "18", "go_to": "Low"}],
    )
    graph = flows.FlowGraph.of(flow)
    pick = graph.step("pick")
    targets = [graph.branch(pick, text).name for text in ("12", "1,000", "NaN", "twelve")]
    assert targets == ["Low", "High", "High", "High"]
    row = {"step": "Pick", "match": "greater_than", "value": "NaN", "go_to": "Low"}
    steps = [{"name": "Pick", "kind": "branch"}, {"name": "Low", "kind": "end"}]
    assert [p.message for p in flow_problems(steps, [row])] == ["'NaN' is not a number."]


def test_a_branch_row_sends_the_answer_elsewhere(project, sandbox, asha, answer):
    flows.start_flow(onboarding(project), asha, channel=sandbox)
    answer("12")
    assert sent_to(asha)[-1] == "Ask a parent to write to us."
    assert not FlowSession.objects.filter(contact=asha).exists()


def test_a_branch_after_a_message_waits_for_a_keyword(project, sandbox, asha, answer):
    flow = build_flow(
        project,
        name="Menu",
        steps=[
            {"name": "Menu", "kind": "message", "text": "Reply SALES or SUPPORT."},
            {"name": "Pick", "kind": "branch"},
            {"name": "Other", "kind": "message", "text": "Sorry?", "go_to": "Pick"},
            {"name": "Sales", "kind": "set_attribute", "attribute": "interest",
             "value": "{{ answer }}", "go_to": "End"},
            {"name": "Support", "kind": "assign", "agents": "anita"},
            {"name": "End", "kind": "end"},
        ],
        rows=[
            {"step": "Pick", "match": "contains", "value": "sales, buy", "go_to": "Sales"},
            {"step": "Pick", "match": "starts_with", "value": "support", "go_to": "Support"},
        ],
    )  # fmt: skip
    anita = build_agent(project, "anita")
    assert flows.start_flow(flow, asha, channel=sandbox).step == "Pick"
    answer("hello?")
    assert sent_to(asha)[-1] == "Sorry?"
    answer("I want to BUY a bike")
    asha.refresh_from_db()
    assert asha.attributes["interest"] == "I want to BUY a bike"
    assert not FlowSession.objects.exists()

    flows.start_flow(flow, asha, channel=sandbox)
    answer("Support please")
    assert "Menu · Support: assigned the chat to Anita" in flow_lines(asha)
    assert list(asha.conversations.get().assignees.values_list("pk", flat=True)) == [anita.user.pk]


@pytest.mark.parametrize(
    ("answer_type", "choices", "text", "saved"),
    [
        ("text", "", "  fine  ", "fine"),
        ("number", "", "1,200", 1200),
        ("number", "", "2.5", 2.5),
        ("email", "", "A@B.example", "a@b.example"),
        ("date", "", "25/12/2026", "2026-12-25"),
        ("choice", "Small\nLarge", "2", "Large"),
        ("choice", "Small\nLarge", "small", "Small"),
    ],
)
def test_answers_of_each_type(project, answer_type, choices, text, saved):
    step = onboarding(project).steps.get(name="Age")
    step.answer_type, step.choices = answer_type, choices
    assert flows.read_answer(step, text, project.tzinfo) == (saved, "")


@pytest.mark.parametrize(
    ("answer_type", "text"),
    [
        ("number", "many"),
        ("number", "NaN"),
        ("number", "-Infinity"),
        ("email", "nope"),
        ("date", "someday"),
        ("choice", "3"),
        ("text", " "),
    ],
)
def test_wrong_answers_say_what_is_expected(project, answer_type, text):
    step = onboarding(project).steps.get(name="Age")
    step.answer_type, step.choices = answer_type, "Small\nLarge"
    value, problem = flows.read_answer(step, text, project.tzinfo)
    assert value is None
    assert problem.startswith("Please answer with")


def test_a_question_of_choices_lists_them(project, sandbox, asha):
    flow = build_flow(
        project,
        name="Size",
        steps=[{"name": "Size", "kind": "question", "text": "Which size?", "attribute": "size",
                "answer_type": "choice", "choices": "Small\nLarge\n"}],
    )  # fmt: skip
    flows.start_flow(flow, asha, channel=sandbox)
    assert sent_to(asha) == ["Which size?\n1. Small\n2. Large"]


# Checks -------------------------------------------------------------------------------


def test_the_checks_name_each_problem_where_it_is():
    problems = flow_problems(
        [
            {"name": "Hello", "kind": "message", "text": "", "go_to": "Nowhere"},
            {"name": "hello", "kind": "end"},
            {"name": "Ask", "kind": "question", "text": "Size?", "attribute": "size",
             "answer_type": "choice", "choices": ""},
            {"name": "Pick", "kind": "branch"},
            {"name": "Jump", "kind": "go_to"},
            {"name": "Say", "kind": "message", "text": "Hi {{ contact..name }}"},
        ],
        [{"step": "Hello", "match": "greater_than", "value": "many", "go_to": "Gone"}],
    )  # fmt: skip
    found = {(p.where, p.index, p.field): p.message for p in problems}
    assert found[("steps", 0, "text")] == "A message step needs the message to send."
    assert found[("steps", 0, "go_to")] == "There is no step called 'Nowhere' in this flow."
    assert found[("steps", 1, "name")] == "Two steps are called 'hello'."
    assert found[("steps", 2, "choices")].startswith("A question of choices needs its choices")
    assert found[("steps", 3, "kind")].startswith("A branch step needs branch rows")
    assert found[("steps", 4, "go_to")] == "Choose the step to go to."
    assert ("steps", 5, "text") in found
    assert found[("branch_rows", 0, "step")] == "'Hello' is not a branch step."
    assert found[("branch_rows", 0, "go_to")] == "There is no step called 'Gone' in this flow."
    assert found[("branch_rows", 0, "value")] == "'many' is not a number."
    assert flow_problems([], [])[0].message == "A flow needs at least one step."


def test_a_flow_with_a_problem_does_not_start(project, sandbox, asha):
    flow = build_flow(project, steps=[{"name": "Hello", "kind": "message", "go_to": "Gone"}])
    with pytest.raises(flows.FlowError) as refused:
        flows.start_flow(flow, asha, channel=sandbox)
    assert str(refused.value) == (
        "The flow 'Onboarding' cannot run: A message step needs the message to send. "
        "There is no step called 'Gone' in this flow."
    )
    assert not FlowSession.objects.exists()


def test_a_loop_of_go_to_steps_is_stopped(project, sandbox, asha):
    flow = build_flow(
        project,
        steps=[
            {"name": "A", "kind": "go_to", "go_to": "B"},
            {"name": "B", "kind": "go_to", "go_to": "A"},
        ],
    )
    with pytest.raises(flows.FlowError, match="make a loop"):
        flows.start_flow(flow, asha, channel=sandbox)
    assert not FlowSession.objects.exists()


def test_a_step_gone_since_ends_the_flow_with_the_reason(project, sandbox, asha, answer):
    flow = onboarding(project)
    flows.start_flow(flow, asha, channel=sandbox)
    flow.steps.filter(name="Age").update(name="How old")
    answer("34")
    assert not FlowSession.objects.exists()
    assert flow_lines(asha)[-1] == (
        "Onboarding: stopped: its step 'Age' is gone (the flow was changed)."
    )


# One flow per contact ------------------------------------------------------------------


def test_a_contact_in_a_flow_or_sequence_is_moved_only_when_forced(project, sandbox, asha):
    first = onboarding(project)
    second = survey(project)
    flows.start_flow(first, asha, channel=sandbox)
    with pytest.raises(flows.FlowError, match="already in the flow 'Onboarding'"):
        flows.start_flow(second, asha, channel=sandbox)
    assert flows.start_flow(second, asha, channel=sandbox, force=True).flow == second
    assert FlowSession.objects.get().flow == second
    assert "Onboarding: the flow was left for the flow 'Survey'" in flow_lines(asha)

    flows.stop_flow(None, asha)
    sequence = Sequence.objects.create(project=project, name="Drip", channel=sandbox)
    subscription = Subscription.objects.create(sequence=sequence, contact=asha, started_at=START)
    with pytest.raises(flows.FlowError, match="already in the sequence 'Drip'"):
        flows.start_flow(first, asha, channel=sandbox)
    flows.start_flow(first, asha, channel=sandbox, force=True)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.UNSUBSCRIBED


def test_stop_flow_takes_the_contact_out(project, sandbox, asha):
    flow = onboarding(project)
    other = build_flow(project, name="Other", steps=[{"name": "End", "kind": "end"}])
    flows.start_flow(flow, asha, channel=sandbox)
    assert flows.stop_flow(other, asha) is False
    assert flows.stop_flow(flow, asha) is True
    assert not FlowSession.objects.exists()
    assert flow_lines(asha)[-1] == "Onboarding: the flow was stopped"


@pytest.mark.django_db(transaction=True)
def test_two_parallel_starts_put_the_contact_in_one_flow(project, sandbox, asha):
    if connection.vendor != "postgresql":
        pytest.skip("parallel connections need PostgreSQL")
    started, refused = [], []
    barrier = threading.Barrier(2)

    def start(flow):
        try:
            barrier.wait()
            started.append(flows.start_flow(flow, asha, channel=sandbox))
        except flows.FlowError as exc:
            refused.append(str(exc))
        finally:
            connection.close()

    flows_started = (onboarding(project), survey(project))
    threads = [threading.Thread(target=start, args=(flow,)) for flow in flows_started]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1 and len(refused) == 1, (started, refused)
    assert FlowSession.objects.filter(contact=asha).count() == 1


# Silence ----------------------------------------------------------------------------------


def test_a_silent_contact_leaves_the_flow_after_its_timeout(project, sandbox, asha):
    flow = onboarding(project, timeout_minutes=30, timeout_message="Bye {{ contact.name }}.")
    with time_machine.travel(START, tick=False) as clock:
        flows.start_flow(flow, asha, channel=sandbox)
        clock.shift(timedelta(minutes=29))
        assert flows.end_silent_flows() == 0
        clock.shift(timedelta(minutes=2))
        assert flows.end_silent_flows() == 1
    assert not FlowSession.objects.exists()
    assert sent_to(asha)[-1] == "Bye Asha."
    assert flow_lines(asha)[-2:] == [
        "Onboarding: sent the timeout message “Bye Asha.”",
        "Onboarding: ended after 30 minutes of silence",
    ]


def test_an_answer_restarts_the_silence(project, sandbox, asha, answer):
    flow = onboarding(project, timeout_minutes=30)
    with time_machine.travel(START, tick=False) as clock:
        flows.start_flow(flow, asha, channel=sandbox)
        clock.shift(timedelta(minutes=20))
        answer("many")
        clock.shift(timedelta(minutes=20))
        assert flows.end_silent_flows() == 0
        clock.shift(timedelta(minutes=11))
        assert flows.end_silent_flows() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sweep_skips_a_session_an_answer_holds(project, sandbox, asha):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    ravi = crm.upsert_contact(project, "919847000002", name="Ravi")
    flow = onboarding(project, timeout_minutes=30)
    with time_machine.travel(START, tick=False):
        held = flows.start_flow(flow, asha, channel=sandbox)
        flows.start_flow(flow, ravi, channel=sandbox)
    locked, release = threading.Event(), threading.Event()

    def hold():
        from django.db import transaction

        with transaction.atomic():
            list(FlowSession.objects.select_for_update().filter(pk=held.pk))
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        with time_machine.travel(START + timedelta(hours=1), tick=False):
            assert flows.end_silent_flows() == 1
    finally:
        release.set()
        holder.join()
    assert list(FlowSession.objects.values_list("contact", flat=True)) == [asha.pk]


def test_a_step_the_crm_refuses_ends_the_flow_with_the_reason(project, sandbox, asha, answer):
    flow = build_flow(
        project,
        name="Survey",
        steps=[
            {"name": "Rate", "kind": "question", "text": "Rate us", "attribute": "rating"},
            {"name": "Keep", "kind": "set_attribute", "attribute": "source", "value": "bot"},
        ],
    )
    flows.start_flow(flow, asha, channel=sandbox)
    # Changed since it started, without the checks of the admin.
    flow.steps.filter(name="Keep").update(attribute=" ")
    answer("5")
    assert not FlowSession.objects.exists()
    assert flow_lines(asha)[-1] == "Survey · Rate: stopped: An attribute needs a name."
    asha.refresh_from_db()
    assert asha.attributes == {}
