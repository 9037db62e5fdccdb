"""Who owns the records record_add and record_update write: nobody, a member named by
username or e-mail address (a template is looked up when the action runs), or an agent
picked from the team the way a routing rule picks one for a chat.

A pick from the team is made under the pool's lock (teambox.assignment) and moves the
pool on: round robin goes on from run to run, and the team's round robin is one, shared
with the chats it assigns, so that records and chats are one share of work. The pick
writes the agent's last assigned time too, so that "least recently assigned" spreads
records as it spreads chats. Such an action is a SHARED_ROW, like assign_chat: the run
commits right after it, and the lock is held briefly. In a simulation the pick is rolled
back with the record: the pool does not move.

Nobody available (nobody online, a department without agents): by default the record is
written without an owner (an update leaves the owners as they are) and the action's log
line is "skipped" with a warning, as a message without a recipient is; with "Fail" the
action fails and writes nothing.
"""

from django import forms

from crm import services as crm
from crm.records import services as records
from picky.templating import to_text
from teambox import assignment
from teambox.assignment.strategies import get_strategy
from teambox.models import RoutingRule

from ..base import ActionError, Effect
from ..pickers import PickerInput
from .fields import MemberField
from .team import DEPARTMENTS, PRESENCES, NameListField, departments_for

# As a message without a recipient (notification.py): a warning, or a failure.
SKIP, FAIL = "skip", "fail"

NOBODY, UNCHANGED, MEMBER, TEAM = "nobody", "unchanged", "member", "team"
LITERAL_SETTINGS = ("owner", "owner_strategy", "owner_presence", "if_no_agent")


def owner_choice(label, leading, help_text):
    """The owner setting: the `leading` choices (nobody; for an update unchanged and
    nobody), the first the default, then a member and the team."""
    choices = [
        *leading,
        (MEMBER, "A member, named below"),
        (TEAM, "An agent picked from the team, as the routing rules pick one for a chat"),
    ]
    keys = ", ".join(key for key, _ in choices)
    return forms.ChoiceField(
        choices=choices,
        required=False,
        initial=leading[0][0],
        label=label,
        help_text=help_text,
        error_messages={
            "invalid_choice": f"“%(value)s” is not a way to set the owner; choose {keys} (a "
            "member is named in owner_member)."
        },
    )


class OwnerSettings(forms.Form):
    """The owner settings of a record action's form. `default`: the owner setting when not
    given (nobody, or unchanged); `without_agent` and `not_written`: what became of the
    records when nobody could be picked, in the warning's and the failure's words."""

    default = NOBODY
    without_agent = not_written = ""

    owner_member = MemberField(
        required=False,
        label="Member",
        help_text="Username or e-mail of a project member, e.g. {{ event.agent_email }}.",
    )
    owner_departments = NameListField(
        required=False,
        widget=PickerInput("departments", multiple=True),
        label="Departments",
        help_text="An agent of one of these departments (empty: any agent of the project).",
    )
    owner_strategy = forms.ChoiceField(
        choices=RoutingRule.Strategy.choices,
        required=False,
        initial=RoutingRule.Strategy.ROUND_ROBIN.value,
        label="Strategy",
        help_text="Who is picked, as in the routing rules; round robin goes on from the "
        "team's last pick.",
    )
    owner_presence = forms.ChoiceField(
        choices=[("online", "Online"), ("both", "Both (online and offline)")],
        required=False,
        initial="online",
        label="Presence",
    )

    def clean(self):
        cleaned = super().clean()
        how = cleaned.get("owner") or self.default
        if how == MEMBER and not cleaned.get("owner_member") and "owner_member" not in self.errors:
            self.add_error(
                "owner_member",
                "Name the member who gets the records: a username or e-mail address, or a "
                "template such as {{ event.agent_email }}.",
            )
        if how != MEMBER and cleaned.get("owner_member"):
            self.add_error(
                "owner_member",
                "Only the owner “A member, named below” (member) uses this: choose it as the "
                "owner, or leave this empty.",
            )
        if how != TEAM and cleaned.get("owner_departments"):
            self.add_error(
                "owner_departments",
                "Only the owner “An agent picked from the team” (team) uses this: choose it as "
                "the owner, or leave this empty.",
            )
        if how == TEAM and self.project is not None:
            names = [name for name in cleaned.get("owner_departments") or [] if "{{" not in name]
            unknown = DEPARTMENTS.unknown(self.project, names)
            if unknown:
                self.add_error(
                    "owner_departments", DEPARTMENTS.unknown_message(self.project, unknown)
                )
        return cleaned


def if_no_agent_field(skip_label):
    return forms.ChoiceField(
        choices=[
            (SKIP, skip_label),
            (FAIL, "Fail, as any error does (the fallback option says what follows)"),
        ],
        required=False,
        label="If no agent can be picked",
        help_text="When nobody of the team is available, e.g. nobody is online.",
    )


class AddedOwnerSettings(OwnerSettings):
    owner = owner_choice("Owner", [(NOBODY, "Nobody")], "Who owns the new record.")
    if_no_agent = if_no_agent_field(
        "Add the record without an owner, with a warning in the run's log"
    )
    without_agent = "the record was added without an owner"
    not_written = "the record was not added"


class UpdatedOwnerSettings(OwnerSettings):
    default = UNCHANGED
    owner = owner_choice(
        "Set the owner",
        [(UNCHANGED, "Leave it unchanged"), (NOBODY, "Nobody")],
        "Who owns the records updated; “Nobody” takes their owner away.",
    )
    if_no_agent = if_no_agent_field(
        "Update the records, their owner unchanged, with a warning in the run's log"
    )
    without_agent = "the records were updated, their owner unchanged"
    not_written = "no record was updated"


def effect_with_owner(action_type, config):
    """A pick from the team takes the pool's lock and writes its place: a shared row."""
    return Effect.SHARED_ROW if config.get("owner") == TEAM else action_type.effect


def owner_for(ctx, inputs, settings):
    """(owner, warning) for rendered `inputs`: a user, None for nobody, or
    records.KEEP_OWNER; the warning says that nobody could be picked (the owner is then
    None for an added record, KEEP_OWNER for an update). Raises ActionError for a member
    the project does not have, or for nobody to pick when the settings say "Fail".
    `settings`: the form class (AddedOwnerSettings or UpdatedOwnerSettings)."""
    how = inputs.get("owner") or settings.default
    if how == UNCHANGED:
        return records.KEEP_OWNER, ""
    if how == NOBODY:
        return None, ""
    if how == MEMBER:
        return named_member(ctx, inputs), ""
    agent = picked_agent(ctx, inputs)
    if agent is not None:
        return agent.user, ""
    if inputs.get("if_no_agent") == FAIL:
        raise ActionError(f"{nobody_available(inputs)}, so {settings.not_written}.")
    warning = f"{nobody_available(inputs)}, so {settings.without_agent}."
    return (None if settings.default == NOBODY else records.KEEP_OWNER), warning


def named_member(ctx, inputs):
    reference = to_text(inputs.get("owner_member")).strip()
    if not reference:
        raise ActionError(
            "The owner's name came out empty (the event has no value for it), so nothing was "
            "written."
        )
    try:
        return crm.project_agent(ctx.project, reference)
    except crm.ContactError as exc:
        raise ActionError(str(exc)) from exc


def picked_agent(ctx, inputs):
    """The agent the pick gives (its pool moved on), or None when nobody is available."""
    key = inputs.get("owner_strategy") or RoutingRule.Strategy.ROUND_ROBIN
    try:
        strategy = get_strategy(key)
    except assignment.UnknownStrategy as exc:
        raise ActionError(str(exc)) from exc
    picked = assignment.pick_agents(
        ctx.project,
        departments=departments_for(ctx.project, inputs.get("owner_departments")),
        presence=PRESENCES[inputs.get("owner_presence") or "online"],
        strategy=key,
        descending=strategy.routing_descending,
        limit=1,
        update_last_assigned=True,
    )
    return picked[0] if picked else None


def nobody_available(inputs):
    names = crm.clean_names(inputs.get("owner_departments"))
    team = " or ".join(names) if names else "the team"
    online = (inputs.get("owner_presence") or "online") == "online"
    return f"No agent of {team} is {'online' if online else 'available'}"
