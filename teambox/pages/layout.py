"""The frame every teambox page shares (templates/teambox/base.html): the project, the
user's other projects for the switcher, and their role."""

from django.shortcuts import render

from picky.models import Project

from .access import sees_all
from .live import live_context


def member_projects(user):
    """The projects whose teambox the user may open, by name."""
    if user.is_superuser:
        return Project.objects.order_by("name")
    return Project.objects.filter(memberships__user=user).order_by("name")


def render_page(request, template, context=None, status=200):
    """Render a page of request.project (set by access.project_page) in the shared frame,
    with the live refresh's stamps, the notifications drawer and the presence switch."""
    context = context or {}
    return render(
        request,
        template,
        {
            "project": request.project,
            "role": request.role,
            "sees_all": sees_all(request.role),
            "projects": member_projects(request.user).only("name", "slug"),
            **live_context(request, request.project, context.get("conversation")),
            **context,
        },
        status=status,
    )
