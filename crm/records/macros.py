"""Macro buttons: a button of a module opens a form of some of its fields on a record;
an agent submitting it updates the record and starts the automations bound to the button
(crm.signals.macro_submitted, which connectors listen to)."""

from django.db import transaction

from picky.names import name_is

from ..signals import macro_submitted
from .models import MacroButton, RecordEntry
from .services import record_as_dict, update_record
from .values import RecordError


def macro_buttons_of(module):
    return MacroButton.objects.filter(module=module).order_by("position", "name")


def find_macro_button(module, name):
    """The module's macro button named `name`, whatever its case, or None."""
    return macro_buttons_of(module).filter(name_is(str(name or "").strip())).first()


def macro_fields(button):
    """The fields the button's form shows, in the button's order (keys of fields the
    module no longer has are left out)."""
    fields = {field.key: field for field in button.module.fields.all()}
    return [fields[key] for key in button.fields if key in fields]


def submit_macro(button, record, values, *, author):
    """`author` submitted `button`'s form on `record` with `values` ({field key: value},
    of the button's fields): the record is updated (a change line on its timeline, as
    any edit, and its module's record workflows), a macro line says who submitted which
    button, and macro_submitted is sent once it all commits (with `entry_id`, the macro
    line's id, beside the button, the record as record_as_dict and the author). Raises
    RecordError naming the fields whose values are wrong, or a field the button's form
    does not show."""
    shown = set(button.fields)
    outside = {
        key: f"{button} does not show the field “{key}”." for key in values if key not in shown
    }
    if outside:
        raise RecordError(" ".join(outside.values()), field=next(iter(outside)), errors=outside)
    with transaction.atomic():
        update_record(record, values, author=author, entry_text=str(button))
        who = author.get_full_name() or author.get_username()
        entry = RecordEntry.objects.create(
            record=record,
            kind=RecordEntry.Kind.MACRO,
            text=f"{who} submitted {button}.",
            data={"button": button.pk, "fields": sorted(values)},
            author=author,
        )
    after = record_as_dict(record)
    transaction.on_commit(
        lambda: macro_submitted.send(
            sender=MacroButton, button=button, record=after, author=author, entry_id=entry.pk
        )
    )
    return record
