"""Flow actions: put the run's contact in a chatbot flow (chatbot_add) or take them out
(chatbot_remove), through the journeys services.

Starting a flow runs its first steps at once: their messages are queued as message rows
(teambox.services.queue_message), handed to the sender only once the run's transaction
commits, so a failed action or a simulation, rolled back, sends nothing: an effect on
Picky's own database, as assign_chat's offline message is.
"""

from django import forms
from django.core.exceptions import ValidationError

from journeys.flows import services as flows
from journeys.flows.models import Flow
from picky.templating import to_text

from ..base import ActionConfigForm, ActionError, ActionType, Effect, ProjectNameField, Result
from ..pickers import matching, picker
from ..registry import register
from .crm import the_contact
from .teambox import ChannelField, channel_for


@picker("flows")
def flow_names(project, term):
    return matching(Flow.objects.filter(project=project), term)


class FlowNameField(ProjectNameField):
    """The name of one of the project's chatbot flows, whatever its case."""

    picker = "flows"

    def check_in_project(self, name, project):
        if flows.find_flow(project, name) is None:
            raise ValidationError(flows.unknown_flow_message(project, name))


def flow_for(ctx, inputs, required=True):
    """The flow the rendered inputs name (None for no name, when not `required`)."""
    name = to_text(inputs.get("flow")).strip()
    if not name and not required:
        return None
    if not name:
        raise ActionError("The flow name came out empty (the event has no value for it).")
    flow = flows.find_flow(ctx.project, name)
    if flow is None:
        raise ActionError(flows.unknown_flow_message(ctx.project, name))
    return flow


class FlowActionType(ActionType):
    category = "Flow"
    effect = Effect.DATABASE


class ChatbotAddForm(ActionConfigForm):
    flow = FlowNameField(max_length=100, help_text="The chatbot flow the contact goes through.")
    channel = ChannelField(
        max_length=100, help_text="The channel the flow talks to the contact on."
    )
    force = forms.BooleanField(
        required=False,
        label="Trigger even if the contact is already in a flow or campaign",
        help_text="They leave that flow and their sequences first; unticked, such a contact "
        "is not put in this flow (the action fails, saying where they are).",
    )


@register("chatbot_add")
class ChatbotAdd(FlowActionType):
    label = "Chatbot Add"
    description = "Put the contact in a chatbot flow, which starts talking to them at once."
    form_class = ChatbotAddForm
    literal_fields = ("force",)

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        flow = flow_for(ctx, inputs)
        channel = channel_for(ctx, inputs)
        try:
            session = flows.start_flow(
                flow, contact, channel=channel, force=inputs.get("force") is True
            )
        except flows.FlowError as exc:
            raise ActionError(str(exc)) from exc
        return Result(
            outputs={
                "flow": flow.name,
                "channel": channel.name,
                "waiting_at": session.step if session else "",
                "finished": session is None,
            }
        )


class ChatbotRemoveForm(ActionConfigForm):
    flow = FlowNameField(
        max_length=100,
        required=False,
        help_text="Take the contact out of this flow; empty: out of whichever flow they are in.",
    )


@register("chatbot_remove")
class ChatbotRemove(FlowActionType):
    label = "Chatbot Remove"
    description = "Take the contact out of a chatbot flow: its questions wait no more."
    form_class = ChatbotRemoveForm

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        flow = flow_for(ctx, inputs, required=False)
        removed = flows.stop_flow(flow, contact)
        return Result(outputs={"flow": flow.name if flow else "", "removed": removed})
