"""The conversation page's actions, each a small POST form: reply, internal note, assign
and transfer, status (resolve, reopen, snooze), kick, the lock switch.

Each checks access.py first (a chat the user may not see answers 404; replies also the
lock, teambox/chat.py) and goes back to the chat with a message; a form with a bad value is
kept in the session so the page shows it again with its errors (forms_kept.py)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from .. import chat as chat_services
from ..assignment import assign_users, remove_assignees
from ..conversations import ConversationError, add_internal_note, set_status
from ..services import MessagingError
from .access import get_visible_conversation, project_page, sees_all, visible_conversations
from .chat_forms import AssignForm, KickForm, LockForm, NoteForm, ReplyForm, StatusForm
from .forms_kept import back_to_chat, send_form_back


def back_to(request, project, chat):
    """The chat's page, or the inbox when the user no longer sees the chat (they
    transferred it or removed themselves)."""
    if visible_conversations(request.user, project, request.role).filter(pk=chat.pk).exists():
        return back_to_chat(project, chat)
    messages.info(request, f"The chat with {chat.contact} is no longer yours.")
    return redirect("teambox_pages:inbox", slug=project.slug)


def refuse(request, project, chat, message, form=None, name=""):
    if form is not None:
        return send_form_back(request, project, chat, name, form, message, error=message)
    messages.error(request, message)
    return back_to_chat(project, chat)


def invalid(request, project, chat, name, form):
    return send_form_back(request, project, chat, name, form, "The form has an error; see below.")


@project_page
@require_POST
def reply(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = ReplyForm(request.POST, conversation=chat)
    if not form.is_valid():
        return invalid(request, project, chat, "reply", form)
    data = form.cleaned_data
    try:
        message = chat_services.send_reply(
            chat,
            request.user,
            nonce=data["nonce"].hex,
            body=data["body"],
            media_url=data["media_url"],
            template=data["template"],
            template_language=data["template_language"],
            template_params=data["template_values"],
        )
    except (chat_services.ChatRefused, MessagingError) as exc:
        return refuse(request, project, chat, exc.message, form, "reply")
    messages.success(request, f"Reply to {chat.contact} {message.get_status_display().lower()}.")
    return back_to_chat(project, chat)


@project_page
@require_POST
def note(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return invalid(request, project, chat, "note", form)
    try:
        add_internal_note(chat, form.cleaned_data["body"], request.user)
    except ConversationError as exc:
        return refuse(request, project, chat, str(exc), form, "note")
    messages.success(request, "Internal note added.")
    return back_to_chat(project, chat)


@project_page
@require_POST
def assign(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = AssignForm(request.POST, project=project)
    if not form.is_valid():
        return invalid(request, project, chat, "assign", form)
    data = form.cleaned_data
    users = [data["user"]] if data["user"] else []
    departments = [data["department"]] if data["department"] else []
    try:
        if data["mode"] == AssignForm.TRANSFER:
            assignees = chat_services.transfer_conversation(
                chat, users, departments=departments, author=request.user, note=data["note"]
            )
        else:
            assignees = assign_users(
                chat, users, departments=departments, author=request.user, note=data["note"]
            )
    except chat_services.ChatRefused as exc:
        return refuse(request, project, chat, exc.message, form, "assign")
    names = ", ".join(user.get_full_name() or user.get_username() for user in assignees)
    verb = "Transferred" if data["mode"] == AssignForm.TRANSFER else "Assigned"
    messages.success(request, f"{verb} to {names or 'nobody'}.")
    return back_to(request, project, chat)


@project_page
@require_POST
def status(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return invalid(request, project, chat, "status", form)
    set_status(
        chat,
        form.cleaned_data["status"],
        author=request.user,
        snoozed_until=form.cleaned_data["until"],
    )
    messages.success(request, f"The chat is {chat.get_status_display().lower()}.")
    return back_to(request, project, chat)


@project_page
@require_POST
def kick(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = KickForm(request.POST)
    if not form.is_valid():
        return refuse(request, project, chat, "Choose who leaves the chat.")
    removed = remove_assignees(chat, [form.cleaned_data["user"]], author=request.user)
    if removed:
        names = ", ".join(user.get_full_name() or user.get_username() for user in removed)
        messages.success(request, f"{names} left the chat.")
    else:
        messages.info(request, "That agent was no longer on the chat.")
    return back_to(request, project, chat)


@project_page
@require_POST
def lock(request, project, pk):
    chat = get_visible_conversation(request.user, project, pk, request.role)
    form = LockForm(request.POST)
    form.is_valid()
    locked = form.cleaned_data.get("locked", False)
    if locked and not sees_all(request.role) and not chat_services.is_assignee(chat, request.user):
        return refuse(
            request, project, chat, "Only an assignee of the chat or an admin can lock it."
        )
    chat_services.set_locked(chat, locked, request.user)
    messages.success(
        request,
        "Only the chat's assignees reply now." if locked else "Anyone who sees the chat can reply.",
    )
    return back_to(request, project, chat)
