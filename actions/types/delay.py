"""Delay actions: cancel_delay."""

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from connectors import delays
from connectors import services as connector_services

from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result
from ..registry import register
from .fields import RowsInput

MAX_TARGETS = 20


class CancelTargetsField(forms.Field):
    """A list of {"connector": name, "identifier": template} objects.

    An empty connector name means the connector of the run itself.
    """

    def to_python(self, value):
        if value in (None, ""):
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise ValidationError("Give a list of {connector, identifier} objects.")
        return value

    def validate(self, value):
        super().validate(value)
        if len(value) > MAX_TARGETS:
            raise ValidationError(f"At most {MAX_TARGETS} targets; {len(value)} given.")
        problems = []
        for number, target in enumerate(value, start=1):
            if not isinstance(target, dict):
                problems.append(f"Target {number}: an object with connector and identifier.")
                continue
            unknown = set(target) - {"connector", "identifier"}
            if unknown:
                problems.append(f"Target {number}: unknown keys {', '.join(sorted(unknown))}.")
            if not isinstance(target.get("connector", ""), str):
                problems.append(f"Target {number}: the connector is a name (text).")
            identifier = target.get("identifier")
            if not isinstance(identifier, str) or not identifier.strip():
                problems.append(f"Target {number}: the identifier is required.")
        if problems:
            raise ValidationError(problems)


class CancelDelayForm(ActionConfigForm):
    targets = CancelTargetsField(
        widget=RowsInput(
            "list",
            item="fields",
            noun="Target",
            fields=(
                {
                    "key": "connector",
                    "label": "Connector",
                    "source": "connectors",
                    "placeholder": "this connector",
                },
                {
                    "key": "identifier",
                    "label": "Identifier",
                    "source": "delay_identifiers",
                    "within": "connector",
                    "placeholder": "{{ event.meeting_id }}",
                },
            ),
        ),
        help_text="A row per connector whose delays to cancel: the connector (empty: this "
        "one) and the identifier its steps park their delays with. As JSON: "
        '[{"connector": "Webinar reminders", "identifier": "{{ event.meeting_id }}"}].',
    )
    then = forms.ChoiceField(
        choices=[("continue", "Continue"), ("stop", "Stop this run")],
        required=False,
        help_text="What this run does after cancelling (default: continue).",
    )


@register("cancel_delay")
class CancelDelay(ActionType):
    label = "Cancel Delay"
    category = "Delay"
    description = (
        "Cancel the pending delays of one or more connectors parked with an identifier "
        "(a meeting id, an order id), then continue or stop."
    )
    effect = Effect.DATABASE
    form_class = CancelDelayForm
    literal_fields = ("then",)

    def run(self, ctx, inputs):
        resolved = [self.resolve(ctx, target) for target in inputs.get("targets") or []]
        reason = f"Delay cancelled by the Cancel Delay action of {ctx.connector or 'a run'}"
        if ctx.run is not None:
            reason += f" (run {ctx.run.pk})"
        report = []
        for connector, identifier in resolved:
            count = delays.cancel_delays(connector, identifier, reason + ".")
            report.append({"connector": connector.name, "identifier": identifier, "count": count})
        outputs = {"cancelled": sum(item["count"] for item in report), "targets": report}
        return Result(outputs=outputs, stop=inputs.get("then") == "stop")

    def resolve(self, ctx, target):
        name = str(target.get("connector") or "").strip()
        identifier = delays.clean_identifier(target.get("identifier"))
        if not identifier:
            raise ActionError(
                f"The identifier {target.get('identifier')!r} rendered empty; nothing was "
                "cancelled (an empty identifier would match every delay without one)."
            )
        if not name:
            if ctx.connector is None:
                raise ActionError("No connector named and no connector of the run to use.")
            return ctx.connector, identifier
        connector = connector_services.connector_by_name(ctx.project, name)
        if connector is None:
            raise ActionError(f"No connector named {name!r} in this project.")
        return connector, identifier

    def admin_links(self, action):
        """A button per target connector to its list of schedules."""
        own = action.step.connector
        url = reverse("admin:connectors_scheduledstep_changelist")
        found = {}
        for target in (action.config or {}).get("targets") or []:
            name = str(target.get("connector") or "").strip() if isinstance(target, dict) else ""
            connector = connector_services.connector_by_name(own.project, name) if name else own
            if connector is not None:
                found[connector.pk] = connector.name
        return [(f"Schedules of {name}", f"{url}?connector={pk}") for pk, name in found.items()]
