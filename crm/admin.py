"""Admin of contacts: a searchable, filterable list and a contact page with notes,
reminders, opt-outs, the timeline, messages and the runs that touched the contact."""

from django import forms
from django.contrib import admin
from django.db.models.fields.json import KeyTransform
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from picky.json_input import unstorable_character
from picky.models import Membership
from picky.tenancy import (
    EDIT,
    VIEW,
    ProjectScopedAdminMixin,
    ProjectScopedInlineMixin,
    has_access,
)
from picky.wording import counted

from . import services
from .admin_panels import members_of, panel
from .models import Category, Contact, Note, OptOut, OptOutList, Reminder, Tag

PANEL_ROWS = 20


class MemberChoicesMixin:
    """User choices (owner, assignee, author) are members of the projects where the user
    may edit the page's rows."""

    user_fields = ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in self.user_fields and field is not None:
            field.queryset = members_of(self.user_projects(request, EDIT))
        return field


class AttributeFilter(admin.ListFilter):
    """Filter on one attribute: `key=value` (equal) or `key` (has the attribute)."""

    title = "attribute"
    parameter_name = "attribute"
    template = "admin/crm/attribute_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        value = params.pop(self.parameter_name, None)
        self.value = (value[-1] if isinstance(value, list) else value or "").strip()
        if self.value:
            self.used_parameters[self.parameter_name] = self.value
        self.other_params = [(k, v) for k, v in request.GET.items() if k != self.parameter_name]

    def has_output(self):
        return True

    def expected_parameters(self):
        return [self.parameter_name]

    def choices(self, changelist):
        yield {"value": self.value, "others": self.other_params}

    def queryset(self, request, queryset):
        if not self.value:
            return queryset
        if unstorable_character(self.value):
            # No attribute holds it, and PostgreSQL refuses it even in a query.
            return queryset.none()
        key, equals, value = self.value.partition("=")
        if not equals:
            return queryset.filter(attributes__has_key=key.strip())
        return queryset.alias(filtered_attribute=KeyTransform(key.strip(), "attributes")).filter(
            filtered_attribute=value.strip()
        )


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "project", "number", "name", "email", "owner", "tags", "categories", "attributes",
            "blacklisted", "smart_replies_paused_until",
        ]  # fmt: skip

    def clean_number(self):
        raw = self.cleaned_data.get("number", "")
        if not services.normalise_number(raw):
            return ""
        try:
            return services.clean_number(raw)
        except services.ContactError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_email(self):
        return (self.cleaned_data.get("email") or "").strip().lower()

    def clean(self):
        cleaned = super().clean()
        project = cleaned.get("project")
        if project is None:
            return cleaned
        if not cleaned.get("number") and not cleaned.get("email"):
            self.add_error("number", "Give a WhatsApp number or an e-mail address.")
        for name in ("tags", "categories"):
            foreign = [row.name for row in cleaned.get(name) or [] if row.project_id != project.pk]
            if foreign:
                self.add_error(name, f"Not of project {project}: {', '.join(foreign)}.")
        owner = cleaned.get("owner")
        if owner and not Membership.objects.filter(project=project, user=owner).exists():
            self.add_error("owner", f"{owner} is not a member of project {project}.")
        return cleaned


class NoteInline(ProjectScopedInlineMixin, admin.StackedInline):
    model = Note
    extra = 0
    fields = ["text", "author", "created_at"]
    readonly_fields = ["author", "created_at"]


class ReminderInline(MemberChoicesMixin, ProjectScopedInlineMixin, admin.TabularInline):
    model = Reminder
    extra = 0
    fields = ["due_at", "text", "assignee", "done"]
    user_fields = ("assignee",)


class OptOutInline(ProjectScopedInlineMixin, admin.TabularInline):
    model = OptOut
    extra = 0
    fields = ["optout_list", "created_at"]
    readonly_fields = ["created_at"]
    verbose_name = "opt-out"
    verbose_name_plural = "opt-out lists the contact left"


@admin.register(Contact)
class ContactAdmin(MemberChoicesMixin, ProjectScopedAdminMixin, admin.ModelAdmin):
    form = ContactForm
    user_fields = ("owner",)
    list_display = [
        "__str__", "number", "email", "owner", "tag_list", "last_interaction_at", "blacklisted",
    ]  # fmt: skip
    list_filter = ["project", "blacklisted", "tags", "categories", "owner", AttributeFilter]
    search_fields = ["number", "name", "email"]
    autocomplete_fields = ["tags", "categories"]
    readonly_fields = [
        "last_interaction_at", "reply_address", "created_at", "updated_at",
        "timeline", "recent_messages", "recent_runs",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["project", "number", "name", "email", "owner"]}),
        ("Segments", {"fields": ["tags", "categories", "attributes"]}),
        (
            "Messaging",
            {
                "fields": [
                    "blacklisted",
                    "smart_replies_paused_until",
                    "last_interaction_at",
                    "reply_address",
                ]
            },
        ),  # fmt: skip
        ("Timeline", {"fields": ["timeline"]}),
        ("Messages", {"fields": ["recent_messages"]}),
        ("Runs that touched this contact", {"fields": ["recent_runs"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    inlines = [NoteInline, ReminderInline, OptOutInline]
    list_select_related = ["owner"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_fieldsets(self, request, obj=None):
        # The runs panel is for those whose role shows them runs (agents read contacts).
        if has_access(request, "connectors.run", VIEW, obj.project_id if obj else None):
            return self.fieldsets
        return [entry for entry in self.fieldsets if "recent_runs" not in entry[1]["fields"]]

    @admin.display(description="tags")
    def tag_list(self, obj):
        return ", ".join(tag.name for tag in obj.tags.all())

    @admin.display(description="reply-to address")
    def reply_address(self, obj):
        return obj.reply_token and services.reply_address(obj) or "Made when first used."

    @admin.display(description="latest on the timeline")
    def timeline(self, obj):
        return timeline_panel(obj) if obj.pk else "-"

    @admin.display(description="latest messages")
    def recent_messages(self, obj):
        if not obj.pk:
            return "-"
        messages = obj.messages.select_related("channel").order_by("-created_at", "-id")
        rows = [
            (
                admin_link("teambox_message", message.pk, f"{message.created_at:%Y-%m-%d %H:%M}"),
                message.get_direction_display(),
                message.channel,
                (message.body or message.template or message.media_url)[:120],
                message.get_status_display(),
                message.error[:120],
            )
            for message in messages[:PANEL_ROWS]
        ]
        return panel(["time", "", "channel", "text", "status", "error"], rows, "No messages yet.")

    @admin.display(description="latest runs")
    def recent_runs(self, obj):
        if not obj.pk:
            return "-"
        runs = obj.runs.select_related("connector").order_by("-created_at", "-id")
        rows = [
            (
                admin_link("connectors_run", run.pk, f"{run.created_at:%Y-%m-%d %H:%M}"),
                run.connector,
                run.get_status_display(),
                run.error[:120],
            )
            for run in runs[:PANEL_ROWS]
        ]
        return panel(["time", "connector", "status", "error"], rows, "No runs yet.")

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, (Note, Reminder)):
                instance.project_id = form.instance.project_id
            if isinstance(instance, Note) and instance.author_id is None:
                instance.author = request.user
            instance.save()
        for instance in formset.deleted_objects:
            instance.delete()
        formset.save_m2m()

    actions = ["blacklist", "unblacklist"]

    @admin.action(description="Blacklist the selected contacts")
    def blacklist(self, request, queryset):
        count = queryset.update(blacklisted=True, updated_at=timezone.now())
        self.message_user(request, f"{counted(count, 'contact')} blacklisted.")

    @admin.action(description="Take the selected contacts off the blacklist")
    def unblacklist(self, request, queryset):
        count = queryset.update(blacklisted=False, updated_at=timezone.now())
        self.message_user(request, f"{counted(count, 'contact')} taken off the blacklist.")


def timeline_panel(contact):
    """The contact's latest timeline lines, newest first, in the project's time zone."""
    zone = contact.project.tzinfo
    rows = [
        (
            f"{timezone.localtime(entry.created_at, zone):%Y-%m-%d %H:%M}",
            entry.get_kind_display(),
            entry.author and (entry.author.get_full_name() or entry.author.get_username()) or "-",
            entry.text,
        )
        for entry in services.timeline_of(contact, limit=PANEL_ROWS)
    ]
    headers = [f"time ({contact.project.time_zone})", "what", "by", "text"]
    return panel(headers, rows, "Nothing on the timeline yet.")


def admin_link(model, pk, text):
    try:
        url = reverse(f"admin:{model}_change", args=[pk])
    except NoReverseMatch:
        return text
    return format_html('<a href="{}">{}</a>', url, text)


class NamedAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    fields = ["project", "name"]
    list_display = ["name", "project", "contact_count"]
    list_filter = ["project"]
    search_fields = ["name"]

    @admin.display(description="contacts")
    def contact_count(self, obj):
        return obj.contacts.count()


admin.site.register(Tag, NamedAdmin)
admin.site.register(Category, NamedAdmin)
admin.site.register(OptOutList, NamedAdmin)


@admin.register(Reminder)
class ReminderAdmin(MemberChoicesMixin, ProjectScopedAdminMixin, admin.ModelAdmin):
    list_display = ["text", "contact", "due_at", "assignee", "done"]
    list_filter = ["done", "assignee", "project"]
    search_fields = ["text", "contact__name", "contact__number"]
    autocomplete_fields = ["contact"]
    user_fields = ("assignee",)
    fields = ["contact", "text", "due_at", "assignee", "done"]
    actions = ["mark_done"]

    def save_model(self, request, obj, form, change):
        obj.project_id = obj.contact.project_id
        super().save_model(request, obj, form, change)

    @admin.action(description="Mark the selected reminders done")
    def mark_done(self, request, queryset):
        count = queryset.update(done=True)
        self.message_user(request, f"{counted(count, 'reminder')} marked done.")


# The record store's pages (modules, records, funnels) live beside its models.
from .records import admin as records_admin  # noqa: E402, F401
