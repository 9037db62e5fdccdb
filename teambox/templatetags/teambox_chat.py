"""What the conversation page's partials show (reply box, actions bar, contact panel),
built once per request from the chat: `{% chat_state conversation as state %}`.

A tag rather than view context, so the partials work whichever view renders the page."""

import json

from django import template

from crm.models import Reminder

from .. import chat as chat_services
from ..channels import adapter_for
from ..models import ConversationAssignee
from ..pages.access import sees_all
from ..pages.chat_forms import (
    AssignForm,
    ContactNoteForm,
    NoteForm,
    ReminderForm,
    ReplyForm,
    StatusForm,
    TagForm,
    new_nonce,
)
from ..pages.contact_panel import sections_for
from ..pages.forms_kept import kept_form

register = template.Library()

PANEL_NOTES = 5
PANEL_REMINDERS = 5


def form_of(request, chat, name, form_class, **kwargs):
    """Form `name`, bound to what the user typed when it last failed, else empty."""
    data, error = kept_form(request, chat, name)
    if data is None:
        return form_class(**kwargs)
    form = form_class(data, **kwargs)
    form.is_valid()
    if error:
        form.add_error(None, error)
    return form


def shown_value(value):
    """An attribute as the panel shows it: text as is, lists and objects as JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


@register.simple_tag(takes_context=True)
def chat_state(context, conversation):
    request = context["request"]
    cache = request.__dict__.setdefault("_teambox_chat_state", {})
    if conversation.pk not in cache:
        cache[conversation.pk] = build_state(request, conversation)
    return cache[conversation.pk]


def build_state(request, chat):
    user, contact = request.user, chat.contact
    manager = sees_all(request.role)
    assignees = [
        assignment.user
        for assignment in ConversationAssignee.objects.filter(conversation=chat)
        .select_related("user")
        .order_by("assigned_at", "pk")
    ]
    is_assignee = any(assignee.pk == user.pk for assignee in assignees)
    reply_form = form_of(request, chat, "reply", ReplyForm, conversation=chat)
    return {
        "assignees": assignees,
        "is_assignee": is_assignee,
        "manager": manager,
        "may_lock": manager or is_assignee,
        "reply_refusal": chat_services.reply_refusal(chat, user),
        "reply_form": reply_form,
        "needs_template": reply_form.needs_template,
        "supports_templates": adapter_for(chat.channel).supports_templates,
        "template_nonce": new_nonce(),
        "templates": chat_services.sent_templates(chat.channel) if chat.channel.is_official else [],
        "note_form": form_of(request, chat, "note", NoteForm),
        "assign_form": form_of(request, chat, "assign", AssignForm, project=request.project),
        "status_form": form_of(request, chat, "status", StatusForm),
        "tag_form": form_of(request, chat, "tags", TagForm),
        "contact_note_form": form_of(request, chat, "contact_note", ContactNoteForm),
        "reminder_form": form_of(request, chat, "reminder", ReminderForm),
        "tags": list(contact.tags.order_by("name")),
        "attributes": [
            (name, shown_value(value)) for name, value in sorted((contact.attributes or {}).items())
        ],
        "notes": list(contact.notes.select_related("author").order_by("-created_at")[:PANEL_NOTES]),
        "reminders": list(
            Reminder.objects.filter(contact=contact, done=False)
            .select_related("assignee")
            .order_by("due_at")[:PANEL_REMINDERS]
        ),
        "sections": sections_for(contact, user),
    }
