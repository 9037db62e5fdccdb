"""The inbox: the chats an agent works, newest activity first."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect

from .access import project_page
from .layout import member_projects, render_page


@login_required(login_url="admin:login")
def home(request):
    """/teambox/: the inbox of the user's first project."""
    project = member_projects(request.user).first()
    if project is None:
        raise Http404("You are not a member of any project.")
    return redirect("teambox_pages:inbox", slug=project.slug)


@project_page
def inbox(request, project):
    return render_page(request, "teambox/inbox.html")
