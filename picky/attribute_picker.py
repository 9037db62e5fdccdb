"""The attribute picker (static/picky/attribute-picker.js) on admin pages outside the
connector builder: the page's template boxes get the `{ }` button offering what their
templates can read there. The admin says which fields are templates and what the page's
tree holds; this app names no other."""

from django import forms

TEMPLATE_MARK = "data-picky-template"


class TemplateFieldsMixin:
    """A ModelAdmin or inline whose `template_fields` are template boxes (marked for the
    picker)."""

    template_fields = ()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in self.template_fields:
            field.widget.attrs[TEMPLATE_MARK] = ""
        return field


class AttributePickerAdminMixin(TemplateFieldsMixin):
    """A ModelAdmin whose change page embeds the picker's tree and loads the picker. It
    defines `picker_groups(request, obj)`: a list of {"label", "nodes"}, the nodes as
    picky.paths.path_node makes them."""

    change_form_template = "admin/picky/attribute_picker_change_form.html"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["picky_paths"] = self.picker_groups(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @property
    def media(self):
        return super().media + forms.Media(
            css={"all": ["picky/builder.css"]}, js=["picky/attribute-picker.js"]
        )
