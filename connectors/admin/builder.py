"""What the builder's forms need on the connector, step and action pages: the attribute tree
of the picker (picky/picker.js) and warnings under the fields whose templates name a path
the sample does not have (warnings, not errors: the page saves)."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from ..template_paths import picker_tree, template_warnings


class BuilderAdminMixin:
    """For a ModelAdmin whose form holds templates. Subclasses say what the templates read
    (`template_scope`) and which form fields hold them (`template_values`)."""

    def template_scope(self, request, obj):
        """The TemplateScope of the page (obj None: an add page), or None when unknown."""
        raise NotImplementedError

    def template_values(self, obj):
        """{form field name: the saved value holding templates} of `obj`."""
        raise NotImplementedError

    def field_warnings(self, request, obj):
        """{form field name: [warning]} for the saved `obj`."""
        scope = self.template_scope(request, obj)
        if scope is None:
            return {}
        found = {}
        for name, value in self.template_values(obj).items():
            warnings = template_warnings(value, scope)
            if warnings:
                found[name] = warnings
        return found

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        scope = self.template_scope(request, obj)
        if scope is not None:
            context["picky_paths"] = picker_tree(scope)
            form = context["adminform"].form
            if obj is not None and obj.pk and not form.is_bound:
                for name, warnings in self.field_warnings(request, obj).items():
                    show_warnings(form, name, warnings)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj, post_url_continue=None):
        return self.stay_when_warned(request, obj) or super().response_add(
            request, obj, post_url_continue
        )

    def response_change(self, request, obj):
        return self.stay_when_warned(request, obj) or super().response_change(request, obj)

    def stay_when_warned(self, request, obj):
        """Back to the saved page, its warnings under their fields, when a template names a
        path the sample lacks; None otherwise (the page's usual way on)."""
        if "_addanother" in request.POST or "_saveasnew" in request.POST:
            return None
        warnings = self.field_warnings(request, obj)
        if not warnings:
            return None
        count = sum(len(found) for found in warnings.values())
        self.message_user(
            request,
            f"Saved, with {count} template warning{'s' if count != 1 else ''}: "
            "see the fields marked below.",
            messages.WARNING,
        )
        opts = obj._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )


def show_warnings(form, name, warnings):
    field = form.fields.get(name)
    if field is None:
        return
    field.help_text = format_html(
        '{}<ul class="picky-warnings">{}</ul>',
        field.help_text,
        format_html_join("", "<li>{}</li>", ((warning,) for warning in warnings)),
    )
