"""What makes a flow unusable, found in its steps and branch rows as plain values: the
admin checks a flow's forms with it before saving, and a flow is checked again when it
starts (it may have been changed since, or written another way).

Step names are compared whatever their case and surrounding spaces.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from crm import services as crm
from picky.templating import template_errors
from teambox import agents as team

from .models import BranchRow, FlowStep

Kind = FlowStep.Kind
NUMBER_MATCHES = (BranchRow.Match.GREATER_THAN, BranchRow.Match.LESS_THAN)
TEMPLATE_FIELDS = ("text", "value", "retry_text")
# What each kind of step must be given, with what a user reads when it is missing.
REQUIRED = {
    Kind.MESSAGE: [("text", "A message step needs the message to send.")],
    Kind.QUESTION: [
        ("text", "A question step needs the question to ask."),
        ("attribute", "A question step needs the contact attribute its answer is saved to."),
    ],
    Kind.SET_ATTRIBUTE: [
        ("attribute", "Name the contact attribute this step sets."),
        ("value", "Give the value this step sets, e.g. {{ answer }}."),
    ],
    Kind.ADD_TAG: [("tags", "Name the tags this step adds.")],
    Kind.GO_TO: [("go_to", "Choose the step to go to.")],
}


@dataclass(frozen=True)
class Problem:
    """`where` is "steps" or "branch_rows", `index` the row's place in it, `field` the
    field at fault."""

    where: str
    index: int
    field: str
    message: str


def step_key(name):
    return str(name or "").strip().casefold()


def as_number(value):
    """`value` as a finite Decimal, or None ("NaN" and "Infinity" are no numbers here)."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def flow_problems(steps, branch_rows, project=None):
    """The problems of a flow given as `steps` and `branch_rows`, lists of dicts of their
    fields (as the models name them). With `project`, the agents and departments an assign
    step names must be the project's."""
    problems = []
    if not steps:
        problems.append(Problem("steps", 0, "name", "A flow needs at least one step."))
    kinds = {}
    for index, step in enumerate(steps):
        key = step_key(step.get("name"))
        if not key:
            problems.append(Problem("steps", index, "name", "Give the step a name."))
        elif key in kinds:
            problems.append(
                Problem("steps", index, "name", f"Two steps are called {step['name'].strip()!r}.")
            )
        else:
            kinds[key] = step.get("kind")
    branching = {step_key(row.get("step")) for row in branch_rows}
    for index, step in enumerate(steps):
        problems += step_problems(index, step, kinds, branching, project)
    for index, row in enumerate(branch_rows):
        problems += branch_row_problems(index, row, kinds)
    return problems


def step_problems(index, step, kinds, branching, project):
    kind = step.get("kind")
    found = []

    def problem(field, message):
        found.append(Problem("steps", index, field, message))

    for field, message in REQUIRED.get(kind, []):
        if not str(step.get(field) or "").strip():
            problem(field, message)
    is_choice = kind == Kind.QUESTION and step.get("answer_type") == FlowStep.AnswerType.CHOICE
    if is_choice and not choices_of(step.get("choices")):
        problem("choices", "A question of choices needs its choices, one per line.")
    if kind == Kind.BRANCH and step_key(step.get("name")) not in branching:
        problem("kind", "A branch step needs branch rows (below) that name it.")
    go_to = step_key(step.get("go_to"))
    if go_to and go_to not in kinds:
        problem("go_to", f"There is no step called {step['go_to'].strip()!r} in this flow.")
    for field in TEMPLATE_FIELDS:
        for error in template_errors(str(step.get(field) or "")):
            problem(field, error)
    if kind == Kind.ASSIGN and project is not None:
        agents = crm.clean_names(step.get("agents"))
        unknown = team.agents_named(project, agents)[1]
        if unknown:
            problem("agents", f"No agent is called {unknown[0]!r}. {team.agents_listed(project)}")
        departments = crm.clean_names(step.get("departments"))
        unknown = team.departments_named(project, departments)[1]
        if unknown:
            problem(
                "departments",
                f"No department is called {unknown[0]!r}. {team.departments_listed(project)}",
            )
    return found


def branch_row_problems(index, row, kinds):
    found = []

    def problem(field, message):
        found.append(Problem("branch_rows", index, field, message))

    step = step_key(row.get("step"))
    if step not in kinds:
        problem("step", f"There is no step called {str(row.get('step')).strip()!r} in this flow.")
    elif kinds[step] != Kind.BRANCH:
        problem("step", f"{row['step'].strip()!r} is not a branch step.")
    if step_key(row.get("go_to")) not in kinds:
        problem("go_to", f"There is no step called {str(row.get('go_to')).strip()!r} in this flow.")
    if not str(row.get("value") or "").strip():
        problem("value", "Give the keywords, or the number, this row compares the answer with.")
    elif row.get("match") in NUMBER_MATCHES and as_number(row["value"]) is None:
        problem("value", f"{row['value'].strip()!r} is not a number.")
    return found


def choices_of(text):
    """The choices of a question, one per line, stripped, empty lines dropped."""
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]
