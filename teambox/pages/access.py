"""Who sees which conversation: one rule for every page, the reply endpoint and the live
stream, so a list never shows a chat its URL would refuse.

- Owners and admins of the project see all its conversations.
- Agents see the conversations assigned to them, and the unassigned ones of their
  departments. An unassigned conversation without a department belongs to the whole
  team (its routing rule names no department, or nobody could take it): every agent of
  the project sees it, so a chat nobody was given is never invisible to all.
- Anyone else (not a member of the project) sees nothing: the project's pages and every
  conversation answer 404, as an unknown one would.

Checked on every request, never cached in the session: an agent removed from a chat, or
from the project, loses it on their next request.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from picky.models import Membership, Project

from ..inbox import assigned_to, unassigned
from ..models import Agent, Conversation
from .accounts import LOGIN_URL

Role = Membership.Role
MANAGERS = (Role.OWNER, Role.ADMIN)


def role_in(user, project):
    """The user's Membership.Role in `project`, or None when they are not a member.
    Superusers act as owners of every project (as in the admin)."""
    if not user.is_authenticated or not user.is_active:
        return None
    role = (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )
    if role is None and user.is_superuser:
        return Role.OWNER
    return role


def sees_all(role):
    return role in MANAGERS


def in_departments_of(user, project):
    """Condition on Conversation: its department is one of the user's agent profile's in
    `project`, or it has none (the whole team's)."""
    departments = Agent.departments.through.objects.filter(
        agent__project=project, agent__user=user
    ).values("department_id")
    return Q(department__isnull=True) | Q(department_id__in=departments)


def visible_conversations(user, project, role=None):
    """The conversations of `project` that `user` may see (the module's rule), as a
    queryset to filter further; `role` saves its look-up when the caller has it."""
    role = role if role is not None else role_in(user, project)
    conversations = Conversation.objects.filter(project=project)
    if role is None:
        return conversations.none()
    if sees_all(role):
        return conversations
    return conversations.filter(
        assigned_to(user) | (unassigned() & in_departments_of(user, project))
    )


def get_visible_conversation(user, project, pk, role=None):
    """The conversation `pk` when `user` may see it; else Http404, as for one that does
    not exist (its existence is not disclosed)."""
    queryset = visible_conversations(user, project, role).select_related(
        "contact", "channel", "department"
    )
    return get_object_or_404(queryset, pk=pk)


def project_page(view):
    """A page of one project, for its members: logs in through the admin's login page,
    answers 404 to a non-member, and calls view(request, project, ...) with
    request.project and request.role set, times shown in the project's time zone."""

    @login_required(login_url=LOGIN_URL)
    @wraps(view)
    def page(request, slug, *args, **kwargs):
        project = get_object_or_404(Project, slug=slug)
        role = role_in(request.user, project)
        if role is None:
            raise Http404("No such project.")
        request.project, request.role = project, role
        with timezone.override(project.tzinfo):
            return view(request, project, *args, **kwargs)

    return page
