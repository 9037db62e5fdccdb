"""The action-type protocol: a small class per type, registered by key.

An action type declares a key, a label, a category, what its effect touches
(`effect`, an `Effect`) and a Django form that validates its JSON config. The
engine renders the config's templates, then calls `run(ctx, inputs)`, which
returns a `Result` or raises `ActionError`.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django import forms
from django.conf import settings

from picky.json_input import JSONInputError, check_storable
from picky.secret_values import MaskedKeysMixin
from picky.templating import render, render_deep, template_errors


@dataclass
class Result:
    """What an action returns: its outputs (saved under `vars.<save_as>` when the
    config names one), whether the run stops here, and variables to set
    directly in `vars` (set_variable, format_date, math).

    `simulation`, in a simulation of an OUTSIDE type only: the message, mail or request as
    it goes out, after templating and with secrets masked, and whether it was `sent`
    (`not_sent` makes one that was not)."""

    outputs: dict = field(default_factory=dict)
    stop: bool = False
    # Why the action did nothing (a message whose recipient is empty): its log line is
    # `skipped` with this warning, and the run goes on.
    skipped_because: str = ""
    variables: dict = field(default_factory=dict)
    simulation: dict | None = None


def not_sent(outputs, **effect):
    """The Result of an OUTSIDE type's dry run: `outputs` as later actions read them, and
    `effect`, the message or request as it would go out, shown "not sent (simulation)"."""
    return Result(outputs=outputs, simulation={"sent": False, **effect})


@dataclass
class ActionContext:
    """What an action sees of its run.

    `data` holds the namespaces templates read (event, meta, contact, vars,
    item, index, counters, globals, now). `run`, `step` and `action` are
    None in a simulation or a test button; `iteration` is the index inside
    an iterator (None outside one). `contact`: the run's contact, which the
    crm types set (actions/types/crm.py set_contact). `deadline`: the
    time.monotonic() value by which the run must end
    (PICKY_RUN_TIME_LIMIT_SECONDS), if any. `sends_safe_requests`: in a
    simulation, whether HTTP types send their GET and HEAD requests for real
    (the Simulate form's "Run safe requests for real").
    """

    project: Any
    data: dict
    connector: Any = None
    run: Any = None
    step: Any = None
    action: Any = None
    iteration: int | None = None
    dry_run: bool = False
    contact: Any = None
    deadline: float | None = None
    sends_safe_requests: bool = False

    def render(self, template):
        return render(template, self.data)


class ActionError(Exception):
    """An action failed. `permanent=False` means retrying may succeed."""

    def __init__(self, message, permanent=True):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ActionConfigForm(forms.Form):
    """Base of every type's config form: the options every action has, and checks
    that refuse values the database cannot store and templates that do not parse."""

    save_as = forms.RegexField(
        regex=VARIABLE_NAME,
        required=False,
        max_length=100,
        error_messages={"invalid": "Use letters, digits and _ (not starting with a digit)."},
        help_text="Save this action's outputs as vars.NAME (this name) for later actions.",
    )
    fallback = forms.ChoiceField(
        choices=[("stop", "Stop executing further steps"), ("continue", "Continue further steps")],
        required=False,
        help_text="What happens when this action fails (default: stop).",
    )

    def __init__(self, *args, action_type=None, project=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Named in the refusal of a setting the form does not know.
        self.action_type = action_type
        # The action's project: the names its ProjectNameFields give are looked up in it.
        # Without one (a check of the config alone) they are looked up when the action runs.
        self.project = project

    def full_clean(self):
        super().full_clean()
        if self.is_bound:
            self.refuse_unknown_settings()

    def refuse_unknown_settings(self):
        """Refuse, at its own key, a setting the form has no field for: dropped silently, a
        typo (`by` for `amount`) would go unnoticed and the action run on its default."""
        unknown = [key for key in self.data if key not in self.fields]
        if not unknown:
            return
        who = self.action_type.key if self.action_type else "this action"
        message = f"unknown setting; {who} takes {', '.join(sorted(self.fields))}"
        for key in unknown:
            # add_error() takes only the form's own fields.
            self._errors[key] = self.error_class([message], renderer=self.renderer)

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            # Fields that take any JSON value pass what they are given: checked here.
            try:
                check_storable(value)
            except JSONInputError as exc:
                self.add_error(name, exc.message)
                continue
            for text in _strings_in(value):
                for error in template_errors(text):
                    self.add_error(name, error)
        self.check_project_names(cleaned)
        return cleaned

    def check_project_names(self, cleaned):
        """Refuse, at its field, a name the project does not have (a channel, a member). A
        template is left to the run: its name is known only then."""
        if self.project is None:
            return
        for name, name_field in self.fields.items():
            value = cleaned.get(name)
            if not isinstance(name_field, ProjectNameField) or not value or "{{" in value:
                continue
            try:
                name_field.check_in_project(value.strip(), self.project)
            except forms.ValidationError as exc:
                self.add_error(name, exc)


class ProjectNameField(forms.CharField):
    """The name of something of the action's project (a channel, a member), checked on save
    when the form knows the project (ActionConfigForm.check_project_names)."""

    def check_in_project(self, name, project):
        """Raise forms.ValidationError, listing the project's names, when `name` is not one."""
        raise NotImplementedError


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_in(key)
            yield from _strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings_in(item)


class Effect(StrEnum):
    """What an action type's effect touches. The engine derives from it how it runs the
    type (connectors/engine/actions.py, ActionRunner.run_action): a savepoint around effects in
    the database, a commit before an effect outside it, and in a simulation a database
    effect happens for real and is rolled back, while an outside one is only described
    (`ActionType.dry_run`)."""

    # Nothing beyond the run itself: it computes, reads or decides (set_variable).
    NONE = "none"
    # Rows of Picky's own database that belong to one contact or run (tags, notes): they
    # commit with the action's log line, so a re-run never repeats them.
    DATABASE = "database"
    # A row of Picky's own database that many runs update (a counter): the run commits
    # right after it, so that the row stays locked briefly.
    SHARED_ROW = "shared_row"
    # The world beyond Picky's database (a message, an e-mail, an HTTP call): the run
    # commits before it, and it is never performed twice for the same
    # (run, step, action, iteration).
    OUTSIDE = "outside"


class ActionType:
    key = ""
    label = ""
    category = ""
    description = ""
    effect = Effect.NONE
    # Optional, for a DATABASE or SHARED_ROW type whose effect is one SQL statement, all or
    # nothing by itself: the engine runs it without a savepoint (two round trips fewer). A
    # database error in it cannot be contained then: the run fails and its uncommitted
    # work is undone.
    effect_is_one_statement = False
    # Optional, for an OUTSIDE type whose effect carries an idempotency key made of
    # (run, step, action, iteration) (a message's `effect_key`): run again, it returns the
    # first run's effect. The engine claims the effect of other outside types before
    # running them (RunExecutor.claim_effect), so that it never runs twice.
    effect_is_idempotent = False
    form_class = ActionConfigForm
    # Config keys that are not templates (rendered as given).
    literal_fields = ()
    # Whether the action page previews the output for the connector's sample as the user
    # types (actions/previews.py): for types that compute and touch nothing (formatters).
    shows_preview = False

    def effect_of(self, config):
        """What the action saved with `config` touches: the type's `effect`, unless one of
        its settings reaches further (a record whose owner is picked from the team's pool
        is a SHARED_ROW, like assign_chat)."""
        return self.effect

    def validate(self, config, project=None):
        """Return the cleaned config, or raise forms.ValidationError with per-field errors.
        With `project`, the action's, the names it gives (a channel, an owner) must be the
        project's."""
        form = self.config_form(config, project)
        if not form.is_valid():
            raise forms.ValidationError(form.errors.as_data())
        return {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}

    def config_form(self, config, project=None):
        """The type's config form bound to `config`: what `validate` checks."""
        return self.form_class(data=config or {}, action_type=self, project=project)

    def render(self, ctx, config):
        """The inputs after templating: what the log shows and `run` receives."""
        return {
            key: value if key in self.literal_fields else render_deep(value, ctx.data)
            for key, value in config.items()
        }

    def run(self, ctx, inputs):
        raise NotImplementedError

    def run_later(self, ctx, inputs):
        """Optional, for a SHARED_ROW type: check `inputs` now (raise ActionError) and
        return a function that performs the effect and returns its Result, which the
        engine calls just before the run's transaction commits; None (the default):
        the effect happens now.

        The engine defers it only when nothing later in the run can read its result
        (no `save_as`, no template reading `counters`). The shared row is then locked
        for the run's last statement only, and the run commits once.

        The function names the row it locks in its `lock_key` attribute (a tuple): the
        engine performs deferred effects in that order, so that transactions locking
        several such rows never deadlock.
        """
        return None

    def loggable(self, inputs):
        """`inputs` as run logs and admin pages may show them: the values of the secret
        settings the form declares masked."""
        return self.secrets_masked(inputs)

    def exported_config(self, config):
        """`config` as an export shows it: the saved values of its secret settings masked
        (importing it asks for them again)."""
        return self.secrets_masked(config)

    def secrets_masked(self, config):
        """`config` with the secrets of its MaskedKeysMixin settings (the form's declaration
        of secret keys) masked."""
        fields = self.form_class.base_fields
        return {
            key: fields[key].mask(value) if isinstance(fields.get(key), MaskedKeysMixin) else value
            for key, value in config.items()
        }

    def admin_links(self, action):
        """Extra (label, url) buttons the admin shows on a saved action of this type."""
        return []

    def dry_run(self, ctx, inputs):
        """What a simulation returns for an OUTSIDE type: its effect described, not performed
        (other types run for real in a simulation, which is rolled back). Each OUTSIDE type
        returns `not_sent(...)` with the message or request it would send."""
        raise NotImplementedError

    def effect_seconds(self, inputs):
        """The longest the outside effect of rendered `inputs` may take: a run taken over
        while it is under way waits that long for its outcome."""
        return settings.PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS

    def outcome_lost(self, inputs):
        """The error of an outside effect whose outcome was lost: the worker stopped while it
        was under way, and the run taken over does not start it again."""
        return (
            f"{self.label} was started but its outcome was lost (the worker stopped); "
            "it was not started again."
        )
