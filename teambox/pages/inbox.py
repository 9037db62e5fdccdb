"""The inbox: the chats an agent works, newest activity first, in tabs (mine,
unassigned, and all for owners and admins), filtered and searched."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.timesince import timesince

from ..inbox import ALL, MINE, NOBODY, UNASSIGNED, Cursor, filter_inbox, inbox_page
from ..models import Agent, Channel, Conversation, Department
from .access import project_page, sees_all, visible_conversations
from .accounts import LOGIN_URL
from .layout import member_projects, render_page
from .moments import Moment

ANY_STATUS = "any"
# ?fragment=list answers the list alone, for the live refresh to swap in.
LIST_FRAGMENT = "list"
PREVIEW_LENGTH = 90


def show_rows(project, rows):
    """Set on each inbox row (inbox_page's) what its line shows, ready to print: a row's
    filters, defaults and url tag in the template cost as much CPU as the rest of the
    page, 50 times a page."""
    for chat in rows:
        contact = chat.contact
        chat.shown_name = contact.name or contact.number or contact.email or "Unknown contact"
        chat.shown_number = contact.number if contact.name else ""
        chat.url = reverse("teambox_pages:conversation", args=[project.slug, chat.pk])
        chat.activity = Moment(chat.last_message_at) if chat.last_message_at else None
        if chat.last_text:
            chat.preview = Truncator(chat.last_text).chars(PREVIEW_LENGTH)
        else:
            chat.preview = f"Template {chat.last_template}" if chat.last_template else ""
        chat.waiting = (
            (Moment(chat.waiting_since).full, timesince(chat.waiting_since))
            if chat.waiting_since and chat.status == Conversation.Status.OPEN
            else None
        )
    return rows


class InboxFilters(forms.Form):
    """The inbox's query string; a bad value is a field error and that filter is left
    out, never a 500."""

    tab = forms.ChoiceField(required=False, widget=forms.HiddenInput)
    status = forms.ChoiceField(
        required=False,
        choices=[*Conversation.Status.choices, (ANY_STATUS, "Any status")],
    )
    channel = forms.ModelChoiceField(queryset=Channel.objects.none(), required=False)
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False)
    assignee = forms.ChoiceField(required=False)
    tag = forms.CharField(required=False, max_length=100)
    q = forms.CharField(required=False, max_length=100, label="Search")
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data, *, project, role):
        super().__init__(data)
        tabs = [(MINE, "Mine"), (UNASSIGNED, "Unassigned")]
        if sees_all(role):
            tabs.append((ALL, "All"))
        self.tabs = tabs
        self.fields["tab"].choices = tabs
        self.fields["channel"].queryset = Channel.objects.filter(project=project)
        self.fields["channel"].empty_label = "Any channel"
        self.fields["department"].queryset = Department.objects.filter(project=project)
        self.fields["department"].empty_label = "Any department"
        self.agents = {
            str(agent.user_id): agent.user
            for agent in Agent.objects.filter(project=project).select_related("user")
        }
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            (NOBODY, "Nobody"),
            *(
                (key, user.get_full_name() or user.get_username())
                for key, user in self.agents.items()
            ),
        ]

    def clean_after(self):
        text = self.cleaned_data["after"]
        if not text:
            return None
        try:
            return Cursor.parse(text)
        except ValueError:
            raise forms.ValidationError(
                "This page's link is broken; the list starts from the newest chat."
            ) from None

    def filters(self):
        """filter_inbox's keyword arguments from the valid fields (defaults: my open
        chats)."""
        data = self.cleaned_data
        status = data.get("status") or Conversation.Status.OPEN
        assignee = data.get("assignee") or None
        return {
            "tab": data.get("tab") or MINE,
            "status": "" if status == ANY_STATUS else status,
            "channel": data.get("channel"),
            "department": data.get("department"),
            "tag": data.get("tag") or "",
            "assignee": assignee if assignee in (None, NOBODY) else self.agents[assignee],
            "search": data.get("q") or "",
        }


@login_required(login_url=LOGIN_URL)
def home(request):
    """/teambox/: the inbox of the user's first project."""
    project = member_projects(request.user).first()
    if project is None:
        raise Http404("You are not a member of any project.")
    return redirect("teambox_pages:inbox", slug=project.slug)


@project_page
def inbox(request, project):
    form = InboxFilters(request.GET, project=project, role=request.role)
    form.is_valid()
    filters = form.filters()
    conversations = filter_inbox(
        visible_conversations(request.user, project, request.role), request.user, **filters
    )
    page = inbox_page(conversations, request.user, after=form.cleaned_data.get("after"))
    show_rows(project, page.conversations)
    fragment = request.GET.get("fragment") == LIST_FRAGMENT
    return render_page(
        request,
        "teambox/partials/inbox_list.html" if fragment else "teambox/inbox.html",
        {
            "form": form,
            "tab": filters["tab"],
            "page": page,
            "next_cursor": str(page.next_cursor) if page.next_cursor else "",
        },
    )
