"""A CRM record in the agents' pages: its fields, funnel stages and timeline; the form to
edit it, and the form of a macro button sent to the agent.

Who sees what follows the module's `agent_access` (crm/records/access.py): a record of a
module agents may not read answers 404, as one that does not exist; one they may read is
shown; one they may edit has its form. Owners and admins read and edit every record. A
macro button's form is open to those who may edit the record and to the agents the button
was sent to (a trigger_macro notification of theirs), who may read it."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from crm.models import Contact
from crm.records import access
from crm.records import services as records
from crm.records.macros import macro_fields, submit_macro
from crm.records.models import Field, FunnelPlacement, MacroButton, RecordEntry

from ..models import Notification
from ..notifications import mark_read_for
from .access import project_page, role_in, visible_conversations
from .contact_panel import PanelItem, PanelSection
from .layout import render_page
from .record_forms import RecordForm

TIMELINE_SIZE = 50
PANEL_RECORDS = 10
Type = Field.Type


def readable_record(request, project, pk):
    """Record `pk` of `project` when the user may read it; Http404 otherwise."""
    queryset = access.readable_records(project, request.role).select_related(
        "module", "owner", "contact"
    )
    return get_object_or_404(queryset, pk=pk)


def record_url(project, pk):
    return reverse("teambox_pages:record", args=[project.slug, pk])


def macro_notifications(user, record, button):
    """`user`'s notifications that sent them `button` on `record`."""
    return Notification.objects.filter(
        user=user, project_id=record.project_id, record_id=str(record.pk), macro_button=button
    )


def referenced(fields, data, field_type):
    return {data[field.key] for field in fields if field.type == field_type and field.key in data}


def shown_values(request, record, fields):
    """(field, value as the page shows it, address of the related record or "") for each
    of `fields`: members and contacts by name, yes / no, lists joined; a related record is
    linked when the user may read it."""
    data, project = record.data, record.project
    users = {
        user.pk: user.get_full_name() or user.get_username()
        for user in get_user_model().objects.filter(pk__in=referenced(fields, data, Type.USER))
    }
    contacts = {
        contact.pk: contact.name or contact.number or contact.email
        for contact in Contact.objects.filter(
            project=project, pk__in=referenced(fields, data, Type.CONTACT)
        )
    }
    related_ids = referenced(fields, data, Type.RELATION)
    linkable = (
        set(
            access.readable_records(project, request.role)
            .filter(pk__in=related_ids)
            .values_list("pk", flat=True)
        )
        if related_ids
        else set()
    )
    rows = []
    for field in fields:
        value = data.get(field.key)
        link = ""
        if value is None or value == [] or value == "":
            text = ""
        elif field.type == Type.USER:
            text = users.get(value, f"User {value}")
        elif field.type == Type.BOOLEAN:
            text = "Yes" if value else "No"
        elif field.type == Type.MULTI_CHOICE:
            text = ", ".join(str(item) for item in value)
        elif field.type == Type.RELATION:
            text = f"{field.related_module} #{value}"
            link = record_url(project, value) if value in linkable else ""
        elif field.type == Type.CONTACT:
            text = contacts.get(value) or f"Contact {value}"
        else:
            text = str(value)
        rows.append((field, text, link))
    return rows


def contact_chat(request, project, contact):
    """The pk of the contact's newest chat the user may open, or None."""
    if contact is None:
        return None
    return (
        visible_conversations(request.user, project, request.role)
        .filter(contact=contact)
        .order_by(F("last_message_at").desc(nulls_last=True), "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def render_record(request, project, record, form=None, status=200):
    module = record.module
    fields = list(module.fields.all())
    editable = access.may_edit(module, request.role)
    if form is None and editable:
        form = RecordForm(fields, record)
    entries = (
        RecordEntry.objects.filter(record=record)
        .select_related("author")
        .order_by("-created_at", "-pk")[:TIMELINE_SIZE]
    )
    placements = (
        FunnelPlacement.objects.filter(record=record)
        .select_related("funnel", "stage")
        .order_by("funnel__name")
    )
    buttons = list(MacroButton.objects.filter(module=module))
    if not editable:
        sent = set(
            Notification.objects.filter(
                user=request.user, project=project, record_id=str(record.pk)
            ).values_list("macro_button_id", flat=True)
        )
        buttons = [button for button in buttons if button.pk in sent]
    return render_page(
        request,
        "teambox/record.html",
        {
            "record": record,
            "module": module,
            "values": shown_values(request, record, fields),
            "form": form if editable else None,
            "entries": entries,
            "placements": placements,
            "buttons": buttons,
            "chat": contact_chat(request, project, record.contact),
        },
        status=status,
    )


@project_page
def record(request, project, pk):
    """GET: the record. POST: its edit form (for those who may edit it)."""
    found = readable_record(request, project, pk)
    if request.method != "POST":
        return render_record(request, project, found)
    if not access.may_edit(found.module, request.role):
        raise PermissionDenied("Agents may read this module's records, not edit them.")
    form = RecordForm(list(found.module.fields.all()), found, request.POST)
    if form.is_valid():
        try:
            changed = form.changed_values(found.module)
            if changed:
                records.update_record(found, changed, author=request.user)
        except records.RecordError as error:
            form.add_record_errors(error)
        else:
            messages.success(request, f"Saved {found}." if changed else "Nothing changed.")
            return redirect(record_url(project, found.pk))
    messages.error(request, "The record was not saved; see the errors below.")
    return render_record(request, project, found, form=form, status=400)


@project_page
def macro(request, project, pk, button_pk):
    """A macro button's form on the record: its fields, pre-filled; submitting it updates
    the record, starts the connectors bound to the button and marks the agent's
    notifications of it read."""
    found = readable_record(request, project, pk)
    button = get_object_or_404(MacroButton, pk=button_pk, module=found.module)
    sent = macro_notifications(request.user, found, button)
    if not access.may_edit(found.module, request.role) and not sent.exists():
        raise Http404("No such macro button on this record.")
    fields = macro_fields(button)
    # A button without fields posts nothing but its CSRF token: still a submission.
    form = RecordForm(fields, found, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                values = form.changed_values(found.module)
                submit_macro(button, found, values, author=request.user)
            except records.RecordError as error:
                form.add_record_errors(error)
            else:
                mark_read_for(request.user, sent)
                messages.success(request, f"{button} saved on {found}.")
                return redirect(record_url(project, found.pk))
        messages.error(request, "The form was not saved; see the errors below.")
        status = 400
    return render_page(
        request,
        "teambox/record_macro.html",
        {"record": found, "module": found.module, "button": button, "form": form},
        status=status,
    )


def linked_records_section(contact, user):
    """The contact panel's section of the contact's records the user may read, each
    opening its page."""
    role = role_in(user, contact.project)
    linked = list(
        access.readable_records(contact.project, role)
        .filter(contact=contact)
        .select_related("module")
        .order_by("-updated_at", "-pk")[:PANEL_RECORDS]
    )
    return PanelSection(
        title="Records",
        items=[
            PanelItem(
                label=str(found),
                url=record_url(contact.project, found.pk),
                detail=found.module.name,
                at=found.updated_at,
            )
            for found in linked
        ],
        empty_text="No record is linked to this contact.",
    )
