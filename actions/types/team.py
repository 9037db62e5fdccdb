"""The project's team as actions name it: agents and departments by name, looked up on
save and when the action runs with one wording for those not found, and the presences
an action picks agents by. Shared by the teambox actions and the record actions' owner
settings (record_owners.py)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from crm import services as crm
from teambox import agents as team

from ..base import ActionError
from .fields import TextListField

MAX_NAMES = 50
# An action's presence setting -> teambox.assignment's.
PRESENCES = {"online": "online", "offline": "offline", "both": "any"}


def quoted(names):
    listed = [repr(str(name)) for name in names]
    return listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} and {listed[-1]}"


def check_count(names, noun):
    """A template may give any number of names: an action takes MAX_NAMES at most."""
    if len(names) > MAX_NAMES:
        raise ActionError(
            f"The event gave {len(names)} {noun}; one action takes {MAX_NAMES} at most."
        )


@dataclass(frozen=True)
class TeamNames:
    """Names of one kind of the project's team (agents, departments): looked up on save
    and at run time, with one wording for those not found."""

    noun: str
    find: Callable  # (project, names) -> (found, unknown)
    listed: Callable  # project -> the sentence naming what there is

    def unknown_message(self, project, names):
        if len(names) == 1:
            start = f"No {self.noun} of this project is called {quoted(names)}."
        else:
            start = f"{quoted(names)} are not {self.noun}s of this project."
        return f"{start} {self.listed(project)}"

    def unknown(self, project, names):
        return self.find(project, names)[1]

    def for_run(self, project, names):
        """Those `names` (rendered) name, or an ActionError naming those not found or
        saying that the names given all came out empty."""
        cleaned = crm.clean_names(names)
        if names and not cleaned:
            raise ActionError(
                f"Every {self.noun} came out empty (the event has no value for them)."
            )
        check_count(cleaned, f"{self.noun}s")
        found, unknown = self.find(project, cleaned)
        if unknown:
            raise ActionError(self.unknown_message(project, unknown))
        return found


AGENTS = TeamNames("agent", team.agents_named, team.agents_listed)
DEPARTMENTS = TeamNames("department", team.departments_named, team.departments_listed)


def agents_for(project, refs):
    return AGENTS.for_run(project, refs)


def departments_for(project, names):
    return DEPARTMENTS.for_run(project, names)


class FlatListField(TextListField):
    """A list of texts or numbers (or one comma-separated text), without lists or objects
    inside."""

    def to_python(self, value):
        if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
            raise ValidationError(f"Give the {self.item_noun} as a list of texts.")
        return super().to_python(value)


class NameListField(FlatListField):
    """Agents or departments by name: a list, or one comma-separated text."""

    item_noun = "names"

    def validate(self, value):
        super().validate(value)
        if len(value) > MAX_NAMES:
            raise ValidationError(f"At most {MAX_NAMES} names; {len(value)} given.")
