"""The contact panel beside a chat: the contact's name, number, e-mail, attributes, tags
(add, remove), notes and reminders, and sections other apps add.

Other apps add sections through `register_panel_section(function)` (connectors lists the
contact's recent runs), as teambox imports neither connectors nor actions: the function
takes (contact, user) and returns a PanelSection, or None to show nothing."""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib import messages
from django.views.decorators.http import require_POST

from crm import services as crm

from .access import get_visible_conversation, project_page
from .chat_forms import ContactNoteForm, ReminderForm, TagForm
from .forms_kept import back_to_chat, send_form_back


@dataclass
class PanelItem:
    label: str
    url: str = ""
    status: str = ""
    status_label: str = ""
    at: datetime | None = None
    detail: str = ""


@dataclass
class PanelSection:
    title: str
    items: list[PanelItem] = field(default_factory=list)
    empty_text: str = "Nothing yet."


panel_sections = []


def register_panel_section(function):
    """Add a section to every contact panel; returns `function` (usable as a decorator).
    Registering the same function twice adds it once."""
    if function not in panel_sections:
        panel_sections.append(function)
    return function


def sections_for(contact, user):
    sections = (function(contact, user) for function in panel_sections)
    return [section for section in sections if section is not None]


def invalid(request, project, chat, name, form):
    return send_form_back(
        request, project, chat, name, form, "The form has an error; see the contact panel."
    )


@project_page
@require_POST
def add_tags(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = TagForm(request.POST)
    if not form.is_valid():
        return invalid(request, project, chat, "tags", form)
    added = crm.add_tags(chat.contact, form.cleaned_data["names"])
    if added:
        messages.success(request, f"Tagged {', '.join(added)}.")
    return back_to_chat(project, chat)


@project_page
@require_POST
def remove_tag(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = TagForm(request.POST)
    if form.is_valid():
        removed = crm.remove_tags(chat.contact, form.cleaned_data["names"])
        if removed:
            messages.success(request, f"Removed the tag {', '.join(removed)}.")
    return back_to_chat(project, chat)


@project_page
@require_POST
def add_note(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = ContactNoteForm(request.POST)
    if not form.is_valid():
        return invalid(request, project, chat, "contact_note", form)
    crm.add_note(chat.contact, form.cleaned_data["text"], author=request.user)
    messages.success(request, f"Note added to {chat.contact}.")
    return back_to_chat(project, chat)


@project_page
@require_POST
def add_reminder(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = ReminderForm(request.POST)
    if not form.is_valid():
        return invalid(request, project, chat, "reminder", form)
    data = form.cleaned_data
    crm.add_reminder(chat.contact, data["text"], data["due_at"], assignee=request.user)
    messages.success(request, "Reminder added.")
    return back_to_chat(project, chat)
