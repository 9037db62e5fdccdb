"""Running chatbot flows: starting and stopping them, a contact's answer moving them on,
and the sweep that ends them after a silence.

A flow walks its steps until it must wait for the contact (a question, or a branch with
no answer to branch on) or it ends. What it sends is queued as messages
(teambox.services.queue_message), which go out once the caller's transaction commits:
a walk that fails is rolled back with what it would have sent. Each step run is a line
on the contact's timeline.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm import services as crm
from crm.models import TimelineEntry
from picky.dates import DateError, read_datetime
from picky.names import name_is
from picky.templating import render
from picky.wording import listed
from teambox import agents as team
from teambox import assignment, conversations
from teambox import services as messaging

from .. import matching
from ..sequences.models import Subscription
from ..sequences.services import unsubscribe_everywhere
from .checks import as_number, choices_of, flow_problems, step_key
from .models import BranchRow, Flow, FlowSession, FlowStep

Kind = FlowStep.Kind
Answer = FlowStep.AnswerType
# A walk runs at most this many steps without waiting for the contact: more means its
# "go to" steps loop.
MAX_STEPS_AT_ONCE = 50
SWEEP_BATCH = 500
STEP_FIELDS = ("name", "kind", "text", "attribute", "answer_type", "choices", "retry_text",
               "value", "tags", "agents", "departments", "go_to")  # fmt: skip
ROW_FIELDS = ("step", "match", "value", "go_to")


class FlowError(ValueError):
    """A flow cannot start or go on as asked; the message says why."""


# Finding flows ------------------------------------------------------------------------


def find_flow(project, name):
    """The project's flow called `name`, whatever the case, or None."""
    return Flow.objects.filter(name_is(str(name or "").strip()), project=project).first()


def unknown_flow_message(project, name):
    """What a user reads when `name` is none of the project's flows: their names."""
    names = Flow.objects.filter(project=project).order_by("name").values_list("name", flat=True)
    return f"No flow of this project is called {name!r}. " + listed(
        names, "flows", "build one under Journeys → Flows"
    )


# A flow's graph -------------------------------------------------------------------------


@dataclass
class FlowGraph:
    """A flow's steps and branch rows, read once for a walk."""

    flow: Flow
    steps: list
    rows: list
    by_key: dict = field(init=False)

    def __post_init__(self):
        self.by_key = {step_key(step.name): step for step in self.steps}

    @classmethod
    def of(cls, flow):
        return cls(flow, list(flow.steps.order_by("position", "pk")), list(flow.branch_rows.all()))

    def problems(self):
        return flow_problems(
            [{name: getattr(step, name) for name in STEP_FIELDS} for step in self.steps],
            [{name: getattr(row, name) for name in ROW_FIELDS} for row in self.rows],
        )

    def step(self, name):
        return self.by_key.get(step_key(name))

    def after(self, step):
        """The step that follows `step`: its "go to", else the next in order (None: the end)."""
        if step.go_to:
            return self.step(step.go_to)
        index = self.steps.index(step)
        return self.steps[index + 1] if index + 1 < len(self.steps) else None

    def branch(self, step, answer):
        """Where the branch `step` sends `answer`: its first matching row's step, else what
        follows the step."""
        for row in self.rows:
            if step_key(row.step) == step_key(step.name) and row_matches(row, answer):
                return self.step(row.go_to)
        return self.after(step)


def row_matches(row, answer):
    if row.match in (BranchRow.Match.GREATER_THAN, BranchRow.Match.LESS_THAN):
        number, limit = as_number(str(answer).replace(",", "")), as_number(row.value)
        if number is None or limit is None:
            return False
        return number > limit if row.match == BranchRow.Match.GREATER_THAN else number < limit
    return matching.matches(answer, row.match, row.value)


# Answers -------------------------------------------------------------------------------


def read_answer(step, text, tzinfo):
    """(value saved to the attribute, "") for an answer of the right type, else (None, what
    the contact is told is wrong)."""
    text = str(text or "").strip()
    if not text:
        return None, "Please answer with text."
    if step.answer_type == Answer.NUMBER:
        number = as_number(text.replace(",", ""))
        if number is None:
            return None, "Please answer with a number, e.g. 42."
        return (int(number) if number == number.to_integral_value() else float(number)), ""
    if step.answer_type == Answer.EMAIL:
        try:
            return crm.clean_email(text), ""
        except crm.ContactError:
            return None, "Please answer with an e-mail address, e.g. name@example.com."
    if step.answer_type == Answer.DATE:
        try:
            return read_datetime(text, tzinfo, day_first=True).date().isoformat(), ""
        except DateError:
            return None, "Please answer with a date, e.g. 25/12/2026."
    if step.answer_type == Answer.CHOICE:
        choices = choices_of(step.choices)
        if text.isdigit() and 1 <= int(text) <= len(choices):
            return choices[int(text) - 1], ""
        chosen = [
            choice for choice in choices if matching.normalised(choice) == matching.normalised(text)
        ]
        if chosen:
            return chosen[0], ""
        return None, f"Please answer with one of the choices (1 to {len(choices)})."
    return text, ""


def question_text(step, text):
    """The question as sent: its text, and its choices numbered under it."""
    if step.answer_type != Answer.CHOICE:
        return text
    lines = [f"{number}. {choice}" for number, choice in enumerate(choices_of(step.choices), 1)]
    return "\n".join([text, *lines])


# Walking ---------------------------------------------------------------------------------


@dataclass
class Walk:
    """One walk of a session: what it sends and the timeline lines it writes."""

    session: FlowSession
    graph: FlowGraph
    now: object
    entries: list = field(default_factory=list)

    @property
    def contact(self):
        return self.session.contact

    def context(self, answer):
        return {
            "contact": crm.contact_as_context(self.contact),
            "answer": answer or "",
            "flow": {"name": self.graph.flow.name},
        }

    def note(self, step, text, **data):
        """A timeline line for a step run (`step` None: the flow as a whole)."""
        prefix = f"{self.graph.flow.name} · {step.name}" if step else self.graph.flow.name
        self.entries.append(
            (
                self.contact,
                TimelineEntry.Kind.FLOW,
                f"{prefix}: {text}",
                {
                    "flow": self.graph.flow.pk,
                    "flow_name": self.graph.flow.name,
                    "step": step.name if step else "",
                    "kind": step.kind if step else "",
                    **data,
                },
            )
        )

    def send(self, text):
        """Queue `text` to the contact on the session's channel; FlowError when it cannot go."""
        try:
            messaging.queue_message(self.session.channel, self.contact, body=text)
        except messaging.MessagingError as exc:
            raise FlowError(exc.message) from exc

    def run(self, step, answer=None):
        """Run from `step` until the flow waits or ends; returns whether it waits. A
        contact change the CRM refuses (an attribute without a name, in a flow changed
        since it was checked) is a FlowError."""
        try:
            return self.run_steps(step, answer)
        except crm.ContactError as exc:
            raise FlowError(str(exc)) from exc

    def run_steps(self, step, answer):
        for _ in range(MAX_STEPS_AT_ONCE):
            if step is None:
                return self.finish("reached its last step")
            kind = step.kind
            if kind == Kind.QUESTION:
                text = question_text(step, render(step.text, self.context(answer)))
                self.send(text)
                self.note(step, f"asked “{text}”")
                return self.wait(step)
            if kind == Kind.BRANCH:
                if answer is None:
                    self.note(step, "waits for the contact's answer")
                    return self.wait(step)
                target = self.graph.branch(step, answer)
                self.note(step, f"“{answer}” goes to {target.name if target else 'the end'}")
                step = target
                continue
            if kind == Kind.MESSAGE:
                text = render(step.text, self.context(answer))
                self.send(text)
                self.note(step, f"sent “{text}”")
                answer = None
            elif kind == Kind.SET_ATTRIBUTE:
                value = render(step.value, self.context(answer))
                crm.set_attribute(self.contact, step.attribute, value)
                self.note(step, f"set {step.attribute} to “{value}”")
            elif kind == Kind.ADD_TAG:
                names = crm.add_tags(self.contact, render(step.tags, self.context(answer)))
                self.note(step, f"tagged {', '.join(names)}")
            elif kind == Kind.ASSIGN:
                self.assign(step)
            elif kind == Kind.END:
                return self.finish("ended", step=step)
            step = self.graph.after(step)
        raise FlowError(
            f"The flow ran {MAX_STEPS_AT_ONCE} steps without waiting for an answer: its "
            "“go to” steps make a loop."
        )

    def assign(self, step):
        project = self.graph.flow.project
        agents, unknown = team.agents_named(project, crm.clean_names(step.agents))
        departments, unknown_departments = team.departments_named(
            project, crm.clean_names(step.departments)
        )
        if unknown or unknown_departments:
            names = ", ".join(unknown + unknown_departments)
            raise FlowError(f"The chat could not be assigned: {names} not found in this project.")
        try:
            conversation, _ = conversations.open_conversation(self.session.channel, self.contact)
        except conversations.ConversationError as exc:
            raise FlowError(str(exc)) from exc
        if agents or departments:
            users = assignment.assign_users(
                conversation, [agent.user for agent in agents], departments=departments
            )
        else:
            users = assignment.route_conversation(conversation)
        names = ", ".join(user.get_full_name() or user.get_username() for user in users)
        self.note(
            step, f"assigned the chat to {names}" if names else "no agent could take the chat"
        )

    def wait(self, step):
        session = self.session
        session.step = step.name
        session.last_activity_at = self.now
        session.expires_at = self.now + timedelta(minutes=self.graph.flow.timeout_minutes)
        session.save(update_fields=["step", "last_activity_at", "expires_at"])
        return True

    def finish(self, how, step=None):
        self.note(step, f"the flow {how}")
        FlowSession.objects.filter(pk=self.session.pk).delete()
        return False

    def write(self):
        crm.add_timeline_entries(self.entries)
        self.entries = []


def checked_graph(flow):
    graph = FlowGraph.of(flow)
    problems = graph.problems()
    if problems:
        raise FlowError(
            f"The flow {flow.name!r} cannot run: " + " ".join(p.message for p in problems[:3])
        )
    return graph


# Starting and stopping --------------------------------------------------------------


def active_subscriptions(contact):
    return Subscription.objects.filter(
        contact=contact, status=Subscription.Status.ACTIVE
    ).select_related("sequence")


def start_flow(flow, contact, *, channel, force=False, now=None):
    """Put `contact` in `flow`, talking on `channel`, and run it until it waits for them
    or ends; returns the session, or None when the flow ended at once.

    A contact in another flow or a sequence is refused (FlowError), unless `force`: then
    they leave that flow and their sequences first. FlowError too for a flow that cannot
    run or a message that cannot be sent (nothing of the start is kept then)."""
    now = now or timezone.now()
    if channel.project_id != flow.project_id or contact.project_id != flow.project_id:
        raise FlowError("The flow, the contact and the channel must be of one project.")
    graph = checked_graph(flow)
    with transaction.atomic():
        current = (
            FlowSession.objects.select_for_update(of=("self",))
            .select_related("flow")
            .filter(contact=contact)
            .first()
        )
        subscriptions = list(active_subscriptions(contact))
        if not force and (current or subscriptions):
            where = (
                f"the flow {current.flow.name!r}"
                if current
                else f"the sequence {subscriptions[0].sequence.name!r}"
            )
            raise FlowError(
                f"{contact} is already in {where}: tick “Trigger even if the contact is "
                "already in a flow or campaign” to move them."
            )
        if current:
            left = Walk(current, FlowGraph(current.flow, [], []), now)
            left.finish(f"was left for the flow {flow.name!r}")
            left.write()
        if subscriptions:
            unsubscribe_everywhere(contact, reason=f"Moved to the chatbot flow {flow.name!r}.")
        try:
            with transaction.atomic():
                session = FlowSession.objects.create(
                    project_id=flow.project_id, flow=flow, contact=contact, channel=channel,
                    step=graph.steps[0].name, started_at=now, last_activity_at=now,
                    expires_at=now + timedelta(minutes=flow.timeout_minutes),
                )  # fmt: skip
        except IntegrityError:
            raise FlowError(f"{contact} was put in another flow at the same moment.") from None
        walk = Walk(session, graph, now)
        walk.note(None, f"started on {channel.name}")
        waits = walk.run(graph.steps[0])
        walk.write()
    return session if waits else None


def stop_flow(flow, contact):
    """Take `contact` out of `flow` (None: whichever flow they are in); returns whether
    they were in it."""
    sessions = FlowSession.objects.filter(contact=contact).select_related("flow")
    if flow is not None:
        sessions = sessions.filter(flow=flow)
    session = sessions.first()
    if session is None:
        return False
    walk = Walk(session, FlowGraph(session.flow, [], []), timezone.now())
    walk.finish("was stopped")
    walk.write()
    return True


# Answers ------------------------------------------------------------------------------


def answer_flow(session_id, message, now=None):
    """Move the contact's session on with their inbound `message`: check the answer of the
    question they were asked (a wrong one is asked again), branch on it, and walk on.
    The session's row is locked meanwhile, so two messages of one contact take turns.
    A step that fails ends the flow, with the reason on the timeline."""
    now = now or timezone.now()
    with transaction.atomic():
        session = (
            FlowSession.objects.select_for_update(of=("self",))
            .select_related("flow__project", "channel")
            .filter(pk=session_id)
            .first()
        )
        if session is None:
            return
        session.contact = message.contact
        graph = FlowGraph.of(session.flow)
        walk = Walk(session, graph, now)
        try:
            with transaction.atomic():
                walk_answer(walk, session, graph, message.body)
        except (FlowError, crm.ContactError) as exc:
            walk.entries = []
            walk.note(graph.step(session.step), f"stopped: {exc}")
            FlowSession.objects.filter(pk=session.pk).delete()
        walk.write()


def walk_answer(walk, session, graph, text):
    step = graph.step(session.step)
    if step is None:
        raise FlowError(f"its step {session.step!r} is gone (the flow was changed).")
    if step.kind != Kind.QUESTION:
        walk.run(step, answer=text)
        return
    value, problem = read_answer(step, text, graph.flow.project.tzinfo)
    if problem:
        retry = render(step.retry_text, walk.context(text)) if step.retry_text else problem
        walk.send(retry)
        walk.note(step, f"“{text}” is not a valid answer; sent “{retry}”")
        walk.wait(step)
        return
    crm.set_attribute(walk.contact, step.attribute, value)
    walk.note(step, f"answered “{text}”, saved to {step.attribute}")
    walk.run(graph.after(step), answer=text)


# Silence ---------------------------------------------------------------------------------


def end_silent_flows(now=None):
    """End the flows whose contact has been silent past their flow's timeout, sending its
    timeout message; returns how many. Due sessions are claimed with SKIP LOCKED: two
    sweeps never end one twice, and a session an answer holds is left to it."""
    now = now or timezone.now()
    with transaction.atomic():
        sessions = list(
            FlowSession.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(expires_at__lte=now)
            .select_related("flow", "contact", "channel")
            .order_by("expires_at")[:SWEEP_BATCH]
        )
        entries = []
        for session in sessions:
            walk = Walk(session, FlowGraph(session.flow, [], []), now)
            flow = session.flow
            if flow.timeout_message:
                text = render(flow.timeout_message, walk.context(None))
                try:
                    with transaction.atomic():
                        walk.send(text)
                    walk.note(None, f"sent the timeout message “{text}”")
                except FlowError as exc:
                    walk.note(None, f"could not send the timeout message: {exc}")
            walk.note(None, f"ended after {flow.timeout_minutes} minutes of silence")
            entries += walk.entries
        FlowSession.objects.filter(pk__in=[session.pk for session in sessions]).delete()
        crm.add_timeline_entries(entries)
    return len(sessions)
