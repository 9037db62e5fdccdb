"""Data storage actions: create, update, empty (clear its values, keep it) and delete a
named row of a data-storage table. Templates read the rows as
`storage.<table>.<row>.<field>` (connectors/engine/context.py loads those they name); an
action that writes a row the run has loaded updates `storage` for the actions after it.

The table is named, its fields by key (refused on save and at run when the table lacks
them), the row by its name (a template such as {{ event.sku }}). They write Picky's own
database only (Effect.DATABASE).
"""

from django import forms

from crm.records import services as records
from crm.records import storage as rows
from crm.records.criteria import fields_by_key
from crm.records.models import Module
from picky.templating import to_text

from ..base import ActionConfigForm, ActionError, ActionType, Effect, Result
from ..pickers import matching, picker
from ..registry import register
from .modules import ModuleNameField, RecordValuesField, literal, module_for, unknown_fields_message


class TableNameField(ModuleNameField):
    """The name of one of the project's data-storage tables, whatever its case."""

    kind = Module.Kind.STORAGE
    picker = "storage_tables"


@picker("storage_tables")
def table_names(project, term):
    return matching(Module.objects.filter(project=project, kind=Module.Kind.STORAGE), term)


class RowForm(ActionConfigForm):
    table = TableNameField(max_length=100, help_text="The data-storage table's name, e.g. Prices.")
    row = forms.CharField(
        max_length=200, help_text="The row's name, e.g. {{ event.sku }}; templates allowed."
    )


class RowValuesForm(RowForm):
    values = RecordValuesField(
        help_text="A value for each field, by its key: e.g. price and {{ event.price }}; "
        "templates allowed."
    )

    def clean(self):
        cleaned = super().clean()
        name = cleaned.get("table")
        if self.project is None or not name or not literal(name) or "table" in self.errors:
            return cleaned
        table = records.find_module(self.project, name.strip(), kind=TableNameField.kind)
        if table is not None:
            fields = fields_by_key(table)
            unknown = [key for key in cleaned.get("values") or {} if key not in fields]
            if unknown:
                self.add_error("values", unknown_fields_message(table, unknown, fields))
        return cleaned


def row_name(inputs):
    name = to_text(inputs.get("row")).strip()
    if not name:
        raise ActionError("The row's name came out empty (the event has no value for it).")
    return name


def values_for(table, inputs):
    values = inputs.get("values") or {}
    fields = fields_by_key(table)
    unknown = [key for key in values if key not in fields]
    if unknown:
        raise ActionError(unknown_fields_message(table, unknown, fields))
    return values


class RowActionType(ActionType):
    category = "Data storage"
    effect = Effect.DATABASE

    def write(self, table, name, inputs):
        """Write the row; the row after the write (None: deleted)."""
        raise NotImplementedError

    def run(self, ctx, inputs):
        table = module_for(ctx, inputs, kind=TableNameField.kind)
        name = row_name(inputs)
        try:
            row = self.write(table, name, inputs)
        except records.RecordError as exc:
            raise ActionError(exc.message) from exc
        # The actions after this one read the row as it is now.
        shown = records.record_as_dict(row) if row is not None else None
        for spelling in self.loaded_spellings(ctx, table):
            loaded = ctx.data["storage"][spelling]
            if shown is None:
                loaded.pop(name, None)
            else:
                loaded[name] = shown
        return Result(
            outputs={"table": table.name, "row": name, "values": row.data if row else None}
        )

    def loaded_spellings(self, ctx, table):
        """The keys under which the run's `storage` holds the table (as templates write
        its name, whatever the case)."""
        storage = ctx.data.get("storage") or {}
        return [key for key in storage if key.lower() == table.name.lower()]


@register("row_create")
class RowCreate(RowActionType):
    label = "Create Row"
    description = "Add a named row to a data-storage table."
    form_class = RowValuesForm

    def write(self, table, name, inputs):
        return rows.create_row(table, name, values_for(table, inputs))


@register("row_update")
class RowUpdate(RowActionType):
    label = "Update Row"
    description = "Set fields of a named row of a data-storage table."
    form_class = RowValuesForm

    def write(self, table, name, inputs):
        return rows.update_row(table, name, values_for(table, inputs))


@register("row_empty")
class RowEmpty(RowActionType):
    label = "Empty Row"
    description = "Clear the values of a named row of a data-storage table, keeping the row."
    form_class = RowForm

    def write(self, table, name, inputs):
        return rows.empty_row(table, name)


@register("row_delete")
class RowDelete(RowActionType):
    label = "Delete Row"
    description = "Delete a named row of a data-storage table."
    form_class = RowForm

    def write(self, table, name, inputs):
        rows.delete_row(table, name)
        return None
