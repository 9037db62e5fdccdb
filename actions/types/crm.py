"""CRM actions: map the run's contact and change it (owner, tags, categories, notes,
reminders, deletion). Each updates `contact.*` for the actions after it. And
trigger_macro, which sends an agent a macro button's form on a module's record.

These types only write Picky's own tables (Effect.DATABASE): they commit with
their log line, so a re-run never repeats them, and a simulation runs them for
real and rolls them back.
"""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm import services as crm
from crm.records import access as record_access
from crm.records import services as records
from crm.records.macros import find_macro_button, macro_buttons_of
from picky.dates import DateError, read_datetime
from picky.json_input import JSONInputField
from picky.templating import to_text
from picky.wording import listed
from teambox import notifications

from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result
from ..pickers import PickerInput
from ..registry import register
from .fields import MemberField, RowsInput, TextListField
from .modules import ModuleNameField, literal

UNITS = {"minutes": "minutes", "hours": "hours", "days": "days", "weeks": "weeks"}
UNIT_CHOICES = [(unit, unit) for unit in UNITS]
MAX_NAMES = 50


class NameListField(TextListField):
    """A list of names (tags, categories), or one comma-separated text; templates allowed."""

    item_noun = "names"

    def validate(self, value):
        if self.required and not value:
            raise ValidationError("Give at least one name.", code="required")
        if len(value) > MAX_NAMES:
            raise ValidationError(f"At most {MAX_NAMES} names; {len(value)} given.")
        long = [name for name in value if len(name) > 100 and "{{" not in name]
        if long:
            raise ValidationError(f"Names are at most 100 characters: {long[0][:40]}…")


def the_contact(ctx):
    """The run's contact, or an ActionError saying how to get one."""
    if ctx.contact is None:
        raise ActionError(
            "This run has no contact: map one with the connector's field mapping or a "
            "Map Contact action before this one."
        )
    return ctx.contact


def set_contact(ctx, contact, labels=None):
    """Make `contact` the run's contact (or None) and refresh `contact.*` (`labels`: the
    contact's, when read with it)."""
    ctx.contact = contact
    ctx.data["contact"] = crm.contact_as_context(contact, labels)


def changed(ctx, contact, **outputs):
    """Refresh `contact.*` and return the result every contact action gives."""
    set_contact(ctx, contact)
    return Result(outputs={**outputs, "contact": ctx.data["contact"]})


LABEL_NOUNS = {"tags": "tag", "categories": "category"}


def names_in(inputs, key):
    names = crm.clean_names(inputs.get(key))
    if not names:
        raise ActionError(
            f"Every {LABEL_NOUNS.get(key, key)} name came out empty (the event has no value "
            "for it), so nothing was changed."
        )
    return names


class ContactActionType(ActionType):
    """A type that writes the contact (Picky's own database only)."""

    effect = Effect.DATABASE
    category = "CRM"


# map_contact -----------------------------------------------------------------------


class MapContactForm(ActionConfigForm):
    number = forms.CharField(
        required=False, help_text="WhatsApp number with country code, e.g. {{ event.phone }}."
    )
    email = forms.CharField(required=False, help_text="E-mail address, e.g. {{ event.email }}.")
    name = forms.CharField(required=False)
    attributes = JSONInputField(
        required=False,
        widget=RowsInput("map"),
        help_text='Attributes to set, e.g. {"city": "{{ event.city }}"}.',
    )
    # "Only existing" rather than "create": a missing box means False, and creating
    # is what most connectors want.
    only_existing = forms.BooleanField(
        required=False, help_text="Do not create a contact when none matches (fail instead)."
    )

    def clean_attributes(self):
        value = self.cleaned_data.get("attributes")
        if value not in (None, "") and not isinstance(value, dict):
            raise ValidationError('Give an object: {"attribute": "value"}.')
        return value

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("number") and not cleaned.get("email"):
            raise ValidationError("Give a number or an e-mail address (or both).")
        return cleaned


@register("map_contact")
class MapContact(ContactActionType):
    label = "Map Contact"
    description = "Find the contact by number or e-mail (or create it) and make it the run's."
    form_class = MapContactForm

    def contact_fields(self, inputs):
        """(number, e-mail, name, attributes) as the inputs give them after templating, as
        text, and the attributes that have a value."""
        attributes = {
            key: value
            for key, value in (inputs.get("attributes") or {}).items()
            if value not in (None, "")
        }
        number, email, name = (to_text(inputs.get(key)) for key in ("number", "email", "name"))
        return number, email.strip(), name.strip(), attributes

    def lookup(self, inputs):
        number, email, name, attributes = self.contact_fields(inputs)
        if not crm.normalise_number(number) and not email:
            raise ActionError(
                "This lead has no phone number and no e-mail address, so no contact could be "
                "found or created."
            )
        return number, email, name, attributes

    def map_fields(self, ctx, inputs):
        """A connector's field mapping, whose config is this type's (the engine runs it
        before the first step): the contact with the number, or without one the e-mail
        address, made when there is none, becomes the run's, read with its labels in one
        query. A mapping whose number and e-mail are both empty maps no contact."""
        number, email, name, attributes = self.contact_fields(inputs)
        try:
            contact, labels = crm.upsert_contact_with_labels(
                ctx.project, number, name=name, email=email, attributes=attributes
            )
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc
        set_contact(ctx, contact, labels)

    def restore_contact(self, ctx, contact):
        """Make the contact an earlier attempt of the run mapped the run's again (a run
        resumed after a delay or taken over from a stopped worker)."""
        set_contact(ctx, contact)

    def run(self, ctx, inputs):
        number, email, name, attributes = self.lookup(inputs)
        only_existing = inputs.get("only_existing") in (True, "true", "True", 1, "1")
        try:
            found = crm.find_contact(ctx.project, number=number, email=email)
            if found is None and only_existing:
                given = [f"the number {number!r}"] if number else []
                given += [f"the e-mail address {email!r}"] if email else []
                raise ActionError(
                    f"No contact has {' or '.join(given)}, and this action only uses existing "
                    "contacts."
                )
            if found is None:
                contact = crm.upsert_contact(
                    ctx.project, number, name=name, email=email, attributes=attributes
                )
            else:
                contact = crm.update_contact(
                    found, number=number, name=name, email=email, attributes=attributes
                )
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc
        return changed(ctx, contact, created=found is None)


# owner -------------------------------------------------------------------------------


class ChangeOwnerForm(ActionConfigForm):
    owner = MemberField(
        required=False,
        help_text="Username or e-mail of a project member; empty takes the owner away.",
    )


@register("change_owner")
class ChangeOwner(ContactActionType):
    label = "Change Owner"
    description = "Give the contact to an agent of the project (or to nobody)."
    form_class = ChangeOwnerForm

    def agent(self, ctx, inputs):
        reference = str(inputs.get("owner") or "").strip()
        if not reference:
            return None
        try:
            return crm.project_agent(ctx.project, reference)
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        owner = self.agent(ctx, inputs)
        crm.change_owner(contact, owner)
        return changed(ctx, contact, owner=owner.get_username() if owner else "")


# tags and categories -----------------------------------------------------------------


class TagsForm(ActionConfigForm):
    tags = NameListField(
        widget=PickerInput("tags", multiple=True),
        help_text='Tag names: ["VIP", "{{ event.source }}"] or "VIP, Lead".',
    )


class CategoriesForm(ActionConfigForm):
    categories = NameListField(
        widget=PickerInput("categories", multiple=True),
        help_text='Category names: ["Retail"] or "Retail, Wholesale".',
    )


class NamesActionType(ContactActionType):
    """Adds or removes names (tags or categories) on the contact."""

    key_name = ""
    adding = True

    def apply(self, contact, names):
        raise NotImplementedError

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        names = self.apply(contact, names_in(inputs, self.key_name))
        # Only these names changed: update `contact.*` in place rather than re-reading it.
        namespace = ctx.data["contact"]
        namespace[self.key_name] = self.merged(namespace.get(self.key_name), names)
        return Result(outputs={self.key_name: names, "contact": namespace})

    def merged(self, current, names):
        """The contact's names after adding (or removing) `names`, case-insensitively."""
        current = list(current or [])
        lowered = {name.lower() for name in names}
        if self.adding:
            present = {name.lower() for name in current}
            current += [name for name in names if name.lower() not in present]
        else:
            current = [name for name in current if name.lower() not in lowered]
        return sorted(current)


@register("add_tag")
class AddTag(NamesActionType):
    label = "Add Tag"
    description = "Tag the contact (tags are created when new)."
    form_class = TagsForm
    key_name = "tags"
    # One INSERT of the links (a new tag is created in a transaction of its own first;
    # left unlinked, it harms nothing).
    effect_is_one_statement = True

    def apply(self, contact, names):
        return crm.add_tags(contact, names)


@register("remove_tag")
class RemoveTag(NamesActionType):
    label = "Remove Tag"
    description = "Take tags off the contact."
    form_class = TagsForm
    key_name = "tags"
    adding = False

    def apply(self, contact, names):
        return crm.remove_tags(contact, names)


@register("add_category")
class AddCategory(NamesActionType):
    label = "Add Category"
    description = "Put the contact in categories (created when new)."
    form_class = CategoriesForm
    key_name = "categories"

    def apply(self, contact, names):
        return crm.add_categories(contact, names)


@register("remove_category")
class RemoveCategory(NamesActionType):
    label = "Remove Category"
    description = "Take the contact out of categories."
    form_class = CategoriesForm
    key_name = "categories"
    adding = False

    def apply(self, contact, names):
        return crm.remove_categories(contact, names)


# delete ------------------------------------------------------------------------------


@register("delete_contact")
class DeleteContact(ContactActionType):
    label = "Delete Contact"
    description = "Delete the run's contact with its notes, reminders and messages."
    form_class = ActionConfigForm

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        deleted = {"id": contact.pk, "number": contact.number, "email": contact.email}
        crm.delete_contact(contact)
        set_contact(ctx, None)
        return Result(outputs={"deleted": deleted})


# notes and reminders -----------------------------------------------------------------


class AddNoteForm(ActionConfigForm):
    text = forms.CharField(widget=forms.Textarea, help_text="The note; templates allowed.")


@register("add_note")
class AddNote(ContactActionType):
    label = "Add Note"
    description = "Add a note to the contact's page."
    form_class = AddNoteForm

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        try:
            note = crm.add_note(contact, inputs.get("text"))
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc
        return changed(ctx, contact, note={"id": note.pk, "text": note.text})


class AddReminderForm(ActionConfigForm):
    text = forms.CharField(widget=forms.Textarea)
    due_at = forms.CharField(
        required=False,
        help_text="When, e.g. {{ event.callback_at }} or 2025-06-01 09:00 (project time zone).",
    )
    amount = forms.IntegerField(
        required=False, min_value=0, help_text="Or due this many units from now."
    )
    unit = forms.ChoiceField(choices=UNIT_CHOICES, required=False, initial="hours")
    assignee = MemberField(
        required=False, help_text="Username or e-mail of a project member (default: the owner)."
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("due_at") and cleaned.get("amount") is None:
            raise ValidationError("Give a due time or an amount of time from now.")
        return cleaned


def due_time(ctx, inputs, now):
    raw = inputs.get("due_at")
    if raw not in (None, ""):
        try:
            return read_datetime(raw, ctx.project.tzinfo)
        except DateError as exc:
            raise ActionError(f"The due time is not a date and time: {exc}") from exc
    try:
        amount = int(inputs.get("amount") or 0)
    except (TypeError, ValueError) as exc:
        raise ActionError(f"Amount {inputs.get('amount')!r} is not a whole number.") from exc
    unit = UNITS.get(inputs.get("unit") or "hours")
    if unit is None:
        raise ActionError(f"Unit {inputs.get('unit')!r}: use minutes, hours, days or weeks.")
    return now + timedelta(**{unit: amount})


@register("add_reminder")
class AddReminder(ContactActionType):
    label = "Add Reminder"
    description = "Remind an agent to follow the contact up at a time."
    form_class = AddReminderForm
    literal_fields = ("amount", "unit")

    def plan(self, ctx, inputs):
        due = due_time(ctx, inputs, timezone.now())
        reference = str(inputs.get("assignee") or "").strip()
        try:
            assignee = crm.project_agent(ctx.project, reference) if reference else None
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc
        return due, assignee

    def run(self, ctx, inputs):
        contact = the_contact(ctx)
        due, assignee = self.plan(ctx, inputs)
        try:
            reminder = crm.add_reminder(
                contact, inputs.get("text"), due, assignee=assignee or contact.owner
            )
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc
        return changed(
            ctx,
            contact,
            reminder={
                "id": reminder.pk,
                "due_at": due.isoformat(),
                "assignee": reminder.assignee.get_username() if reminder.assignee else "",
            },
        )


# trigger_macro ---------------------------------------------------------------------


def unknown_button_message(module, name):
    return f"{module} has no macro button “{name}”. " + listed(
        macro_buttons_of(module).values_list("name", flat=True),
        "macro buttons",
        "add one on the module's page under CRM › Modules",
    )


def refused_reader_message(user, module):
    return (
        f"{user.get_username()} may not read the records of {module} (its agents have no "
        f"access), so the form cannot be sent to them: give agents access to {module}, or "
        "send it to an owner or admin."
    )


class TriggerMacroForm(ActionConfigForm):
    module = ModuleNameField(max_length=100, help_text="The module's name, e.g. Deals.")
    button = forms.CharField(
        max_length=100,
        widget=PickerInput("macro_buttons"),
        help_text="The module's macro button whose form the agent gets, e.g. Qualify.",
    )
    agent = MemberField(
        max_length=254,
        help_text="Who gets it: a member of the project by username or e-mail address, e.g. "
        "{{ event.owner_email }}.",
    )
    record_id = forms.CharField(
        max_length=100,
        help_text="The id of the module's record the form opens on, e.g. {{ vars.deal.id }}.",
    )

    def clean(self):
        """On save, with the project known: the button is the module's, and the agent may
        read its records (names given by templates are checked when the action runs)."""
        cleaned = super().clean()
        module_name, button, agent = (cleaned.get(key) for key in ("module", "button", "agent"))
        if self.project is None or "module" in self.errors or not module_name:
            return cleaned
        module = records.find_module(self.project, module_name.strip())
        if module is None:
            return cleaned  # a template: checked when the action runs
        if button and literal(button) and find_macro_button(module, button) is None:
            self.add_error("button", unknown_button_message(module, button.strip()))
        if agent and literal(agent) and "agent" not in self.errors:
            user = crm.project_agent(self.project, agent)
            if not record_access.may_read(module, record_access.member_role(self.project, user)):
                self.add_error("agent", refused_reader_message(user, module))
        return cleaned


@register("trigger_macro")
class TriggerMacro(ActionType):
    label = "Trigger Macro"
    description = (
        "Send an agent a macro button's form on a record: a notification in their teambox "
        "opens it; submitting it updates the record and starts the button's connectors."
    )
    category = "CRM"
    effect = Effect.DATABASE
    form_class = TriggerMacroForm

    def run(self, ctx, inputs):
        name = to_text(inputs.get("module")).strip()
        module = records.find_module(ctx.project, name)
        if module is None:
            raise ActionError(records.unknown_module_message(ctx.project, name))
        button_name = to_text(inputs.get("button")).strip()
        button = find_macro_button(module, button_name)
        if button is None:
            raise ActionError(unknown_button_message(module, button_name))
        try:
            user = crm.project_agent(ctx.project, to_text(inputs.get("agent")))
        except crm.ContactError as exc:
            raise ActionError(str(exc)) from exc
        try:
            record = records.find_record(module, to_text(inputs.get("record_id")))
        except records.RecordError as exc:
            raise ActionError(exc.message) from exc
        if not record_access.may_read(module, record_access.member_role(ctx.project, user)):
            raise ActionError(refused_reader_message(user, module))
        [notification] = notifications.notify_agents(
            ctx.project,
            [user],
            f"{button}: {record}",
            f"Fill in {button} on {record}.",
            contact=record.contact,
            record_id=str(record.pk),
            macro_button=button,
        )
        return Result(
            outputs={
                "notification": notification.pk,
                "agent": {
                    "id": user.pk,
                    "name": user.get_full_name() or user.get_username(),
                    "email": user.email,
                },
                "button": button.name,
                "record": records.record_as_dict(record),
            }
        )
