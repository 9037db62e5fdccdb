"""The presence switch in the header: an agent shows online, away or offline; the live
refresh's poll is their heartbeat (live.py), so closing the tab lets presence expire
after PICKY_AGENT_PRESENCE_SECONDS. A member without an agent profile is told why there
is no switch."""

from django import forms
from django.contrib import messages
from django.views.decorators.http import require_POST

from ..agents import effective_presence, heartbeat
from ..models import Agent
from .access import project_page
from .notifications import back

NOT_AN_AGENT = (
    "You are a member of this project but not one of its agents, so no chats are routed "
    "to you and you have no presence to set. An admin can add you under Teambox → Agents."
)


class PresenceForm(forms.Form):
    presence = forms.ChoiceField(choices=Agent.Presence.choices)


def agent_of(request, project):
    return Agent.objects.filter(project=project, user=request.user).first()


def presence_state(agent):
    """What the switch shows: the agent's choice and what routing sees (offline once the
    heartbeat is stale); None for a member who is not an agent."""
    if agent is None:
        return None
    shown = effective_presence(agent)
    return {"chosen": agent.presence, "value": shown, "label": shown.label}


def presence_context(request, project):
    """The header's switch, for layout.render_page."""
    return {
        "presence": presence_state(agent_of(request, project)),
        "presence_choices": Agent.Presence.choices,
        "not_an_agent": NOT_AN_AGENT,
    }


@require_POST
@project_page
def set_presence(request, project):
    agent = agent_of(request, project)
    form = PresenceForm(request.POST)
    if agent is None:
        messages.error(request, NOT_AN_AGENT)
    elif not form.is_valid():
        messages.error(request, "Choose online, away or offline.")
    else:
        heartbeat(agent, presence=form.cleaned_data["presence"])
    return back(request, project)
