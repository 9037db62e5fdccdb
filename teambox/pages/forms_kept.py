"""A form that failed is shown again, with what was typed and its errors, on the page the
user is sent back to (POST, redirect, GET): kept in the session for one page view."""

from django.contrib import messages
from django.shortcuts import redirect

SESSION_KEY = "teambox-kept-form"


def back_to_chat(project, chat):
    return redirect("teambox_pages:conversation", slug=project.slug, pk=chat.pk)


def send_form_back(request, project, chat, name, form, message, error=""):
    """Back to the chat's page with `message`, form `name` shown again as it was typed
    (with `error`, one the form could not see)."""
    keep_form(request, chat, name, form.data, error=error)
    messages.error(request, message)
    return back_to_chat(project, chat)


def keep_form(request, chat, name, data, error=""):
    """Keep form `name`'s submitted `data` (and an error the form could not see, such as a
    refusal of the channel) for the next view of `chat`'s page."""
    request.session[SESSION_KEY] = {
        "chat": chat.pk,
        "name": name,
        "data": {key: data.get(key) for key in data if key != "csrfmiddlewaretoken"},
        "error": error,
    }


def kept_form(request, chat, name):
    """(data, error) kept for form `name` of `chat`, taken out of the session; (None, "")
    when there is none."""
    kept = request.session.get(SESSION_KEY)
    if not kept or kept.get("chat") != chat.pk or kept.get("name") != name:
        return None, ""
    del request.session[SESSION_KEY]
    return kept["data"], kept.get("error", "")
