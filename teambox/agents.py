"""Agents and departments: presence from heartbeats, and finding them by what a user types.

An agent's presence is what they chose (online, away, offline) only while their
heartbeat is fresh: an agent who closed the laptop without signing out is offline once
PICKY_AGENT_PRESENCE_SECONDS pass, so routing never hands them a chat.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from picky.names import name_in
from picky.wording import listed

from .models import Agent, Department


def heartbeat(agent, *, presence=None, at=None):
    """The agent is at their desk at `at` (now by default); `presence` changes what they
    show (an Agent.Presence value)."""
    fields = {"last_seen_at": at or timezone.now()}
    if presence is not None:
        fields["presence"] = Agent.Presence(presence).value
    Agent.objects.filter(pk=agent.pk).update(**fields)
    for name, value in fields.items():
        setattr(agent, name, value)
    return agent


def online_cutoff(now=None):
    """An agent whose last heartbeat is older than this is not online."""
    return (now or timezone.now()) - timedelta(seconds=settings.PICKY_AGENT_PRESENCE_SECONDS)


def effective_presence(agent, now=None):
    """The agent's presence as routing sees it: offline once their heartbeat is stale."""
    if agent.last_seen_at is None or agent.last_seen_at < online_cutoff(now):
        return Agent.Presence.OFFLINE
    return Agent.Presence(agent.presence)


def agents_named(project, refs):
    """(agents, unknown refs) of `project` for `refs`: user ids, e-mail addresses or
    usernames, whatever the case; agents in the order of the refs, each once."""
    refs = [str(ref).strip() for ref in refs if str(ref).strip()]
    if not refs:
        return [], []
    ids = [int(ref) for ref in refs if ref.isdigit()]
    candidates = list(
        Agent.objects.filter(project=project)
        .filter(Q(user_id__in=ids) | name_in(refs, "user__email") | name_in(refs, "user__username"))
        .select_related("user")
        .order_by("pk")
    )
    agents, unknown = [], []
    for ref in refs:
        agent = next((a for a in candidates if names_user(ref, a.user)), None)
        if agent is None:
            unknown.append(ref)
        elif agent not in agents:
            agents.append(agent)
    return agents, unknown


def names_user(ref, user):
    lowered = ref.lower()
    return (
        (ref.isdigit() and int(ref) == user.pk)
        or lowered == (user.email or "").lower()
        or lowered == user.get_username().lower()
    )


def departments_named(project, names):
    """(departments, unknown names) of `project` for `names`, whatever the case."""
    names = [str(name).strip() for name in names if str(name).strip()]
    if not names:
        return [], []
    found = {
        department.name.lower(): department
        for department in Department.objects.filter(name_in(names), project=project)
    }
    departments, unknown = [], []
    for name in names:
        department = found.get(name.lower())
        if department is None:
            unknown.append(name)
        elif department not in departments:
            departments.append(department)
    return departments, unknown


def agents_listed(project):
    """The project's agents by username, as a sentence for a message naming none of them."""
    names = Agent.objects.filter(project=project).order_by("user__username")
    return listed(
        names.values_list("user__username", flat=True),
        "agents",
        "add them under Teambox → Agents",
    )


def departments_listed(project):
    """The project's departments, as a sentence for a message naming none of them."""
    names = Department.objects.filter(project=project).order_by("name")
    return listed(
        names.values_list("name", flat=True),
        "departments",
        "add them under Teambox → Departments",
    )
