"""The forms of a conversation's page: the reply box, the chat's actions and the contact
panel. A bad value is a field error on the page, never a 500."""

import uuid

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import URLValidator
from django.utils import timezone

from crm import services as crm
from crm.models import Tag

from ..assignment import NOTE_MAX_LENGTH
from ..models import Agent, Conversation, Department
from ..services import session_open

TAG_LENGTH = Tag._meta.get_field("name").max_length
WEB_ADDRESS = URLValidator(schemes=["http", "https"], message="Give a web address (http or https).")


def new_nonce():
    return uuid.uuid4().hex


class ReplyForm(forms.Form):
    """A reply to the contact. On an official WhatsApp channel outside the contact's
    24-hour session only a template is accepted (`needs_template`)."""

    nonce = forms.UUIDField(widget=forms.HiddenInput)
    body = forms.CharField(
        required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 3}), label="Reply"
    )
    media_url = forms.CharField(
        required=False,
        max_length=1000,
        validators=[WEB_ADDRESS],
        label="Media URL",
        widget=forms.URLInput(attrs={"placeholder": "https://… (image, document, audio)"}),
    )
    template = forms.CharField(required=False, max_length=200, label="Template name")
    template_language = forms.CharField(
        required=False, max_length=20, initial="en", label="Language"
    )
    template_values = forms.CharField(
        required=False,
        label="Values ({{1}}, {{2}}, … one per line)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, data=None, *, conversation, **kwargs):
        initial = {"nonce": new_nonce(), "template_language": "en"}
        super().__init__(data, initial=initial, **kwargs)
        self.conversation = conversation
        self.fields["body"].widget.attrs["placeholder"] = f"Reply to {conversation.contact}…"
        channel = conversation.channel
        self.needs_template = channel.is_official and not session_open(
            channel, conversation.contact
        )

    def clean_template_values(self):
        lines = self.cleaned_data["template_values"].splitlines()
        return [line.strip() for line in lines if line.strip()]

    def clean(self):
        data = super().clean()
        body, template = data.get("body", "").strip(), data.get("template", "").strip()
        data["body"], data["template"] = body, template
        if self.needs_template and not template:
            self.add_error(
                "template" if not body else "body",
                f"{self.conversation.contact} has not written in the last 24 hours, so WhatsApp "
                "accepts only an approved template: name one below with its values.",
            )
        elif not (body or template or data.get("media_url")):
            self.add_error("body", "Write a reply, or give a media URL or a template.")
        return data


class NoteForm(forms.Form):
    body = forms.CharField(max_length=4096, label="Internal note")


class AssignForm(forms.Form):
    """Add an agent or a department's agents to the chat, or transfer it to them."""

    ADD, TRANSFER = "add", "transfer"

    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, label="Agent"
    )
    department = forms.ModelChoiceField(
        queryset=Department.objects.none(), required=False, label="Department"
    )
    note = forms.CharField(
        required=False, max_length=NOTE_MAX_LENGTH, label="Note for the team (optional)"
    )
    mode = forms.ChoiceField(
        choices=[(ADD, "Add"), (TRANSFER, "Transfer")], initial=ADD, widget=forms.HiddenInput
    )

    def __init__(self, data=None, *, project, **kwargs):
        super().__init__(data, **kwargs)
        agents = Agent.objects.filter(project=project, enabled=True).values("user_id")
        user = self.fields["user"]
        user.queryset = get_user_model().objects.filter(pk__in=agents).order_by("username")
        user.label_from_instance = lambda u: u.get_full_name() or u.get_username()
        user.empty_label = "Choose an agent"
        self.fields["department"].queryset = Department.objects.filter(project=project)
        self.fields["department"].empty_label = "or a department"

    def clean(self):
        data = super().clean()
        if not (data.get("user") or data.get("department")):
            self.add_error("user", "Choose an agent or a department.")
        return data


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Conversation.Status.choices)
    until = forms.DateTimeField(
        required=False,
        label="Snooze until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean(self):
        data = super().clean()
        snoozing = data.get("status") == Conversation.Status.SNOOZED
        until = data.get("until")
        if snoozing and until is None and "until" not in self.errors:
            self.add_error("until", "Say until when the chat sleeps.")
        elif snoozing and until is not None and until <= timezone.now():
            self.add_error("until", "Choose a time in the future.")
        if not snoozing:
            data["until"] = None
        return data


class KickForm(forms.Form):
    user = forms.IntegerField()


class LockForm(forms.Form):
    locked = forms.BooleanField(required=False)


class TagForm(forms.Form):
    names = forms.CharField(max_length=300, label="Tags (comma-separated)")

    def clean_names(self):
        names = crm.clean_names(self.cleaned_data["names"])
        if not names:
            raise forms.ValidationError("Name a tag.")
        too_long = [name for name in names if len(name) > TAG_LENGTH]
        if too_long:
            raise forms.ValidationError(
                f"A tag has at most {TAG_LENGTH} characters; {too_long[0][:20]}… has "
                f"{len(too_long[0])}."
            )
        return names


class ContactNoteForm(forms.Form):
    text = forms.CharField(max_length=4096, widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class ReminderForm(forms.Form):
    text = forms.CharField(max_length=500, label="Reminder")
    due_at = forms.DateTimeField(
        label="Due",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
