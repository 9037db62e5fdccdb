"""The sequence page: its messages in order (drag to reorder), its subscribers and the
figures of each step; subscriptions with each delivery's status and the reason of a skip."""

from adminsortable2.admin import SortableAdminBase, SortableStackedInline
from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from picky.attribute_picker import TemplateFieldsMixin
from picky.tenancy import EDIT, ProjectScopedAdminMixin, ProjectScopedInlineMixin

from ..template_paths import ContactTemplatesAdminMixin
from .models import Delivery, Sequence, SequenceMessage, Subscription
from .stats import COLUMNS, step_stats, subscriber_counts
from .timing import WEEKDAY_NAMES, describe_timing


class ValuesField(forms.CharField):
    """A list of texts typed one per line (a template's values)."""

    widget = forms.Textarea(attrs={"rows": 2, "data-picky-template": ""})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value):
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class SequenceMessageForm(forms.ModelForm):
    template_params = ValuesField(
        required=False,
        label="Template values",
        help_text="One per line, in order ({{1}}, {{2}}, ...); {{ contact.name }} and other "
        "contact fields are filled in.",
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only on these days; a step falling on another day waits for the next one "
        "chosen. None: any day.",
    )

    class Meta:
        model = SequenceMessage
        fields = [
            "kind",
            "timing",
            "text",
            "media_url",
            "template",
            "template_language",
            "template_params",
            "delay_amount",
            "delay_unit",
            "day",
            "send_time",
            "weekdays",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 3}),
            "send_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }


class SequenceForm(forms.ModelForm):
    class Meta:
        model = Sequence
        fields = ["project", "name", "channel", "enabled", "stop_keywords", "optout_list"]
        labels = {"optout_list": "Opt-out list"}


class SequenceMessageInline(TemplateFieldsMixin, ProjectScopedInlineMixin, SortableStackedInline):
    model = SequenceMessage
    form = SequenceMessageForm
    # The template values are marked by their field (ValuesField).
    template_fields = ("text", "media_url")
    extra = 0
    verbose_name = "message"
    verbose_name_plural = "Messages (in order; drag to reorder)"
    fields = [
        "kind",
        "text",
        "media_url",
        ("template", "template_language"),
        "template_params",
        "timing",
        ("delay_amount", "delay_unit"),
        ("day", "send_time"),
        "weekdays",
    ]

    class Media:
        css = {"all": ["journeys/sequences.css"]}
        js = ["journeys/sequence_messages.js"]


@admin.register(Sequence)
class SequenceAdmin(
    ContactTemplatesAdminMixin, SortableAdminBase, ProjectScopedAdminMixin, admin.ModelAdmin
):
    form = SequenceForm
    list_display = ["name", "project", "channel", "enabled", "subscribers_link"]
    list_filter = ["enabled", "project"]
    list_select_related = ["project", "channel"]
    search_fields = ["name"]
    inlines = [SequenceMessageInline]

    class Media:
        css = {"all": ["picky/admin.css"]}

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                None,
                {
                    "fields": [
                        "project",
                        "name",
                        "channel",
                        "enabled",
                        "stop_keywords",
                        "optout_list",
                    ]
                },
            )
        ]
        if obj is not None:
            fieldsets.append(("Subscribers and figures", {"fields": ["subscribers", "figures"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        # Its subscriptions and messages belong to the sequence's project: it never moves.
        return ["project", "subscribers", "figures"] if obj else []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        projects = list(self.user_projects(request, EDIT)[:2])
        if len(projects) == 1:
            initial.setdefault("project", projects[0].pk)
        return initial

    @admin.display(description="Subscribers")
    def subscribers_link(self, sequence):
        url = reverse("admin:journeys_subscription_changelist")
        query = urlencode({"sequence__id__exact": sequence.pk})
        return format_html('<a href="{}?{}">Subscribers</a>', url, query)

    @admin.display(description="Subscribers")
    def subscribers(self, sequence):
        counts = subscriber_counts(sequence)
        shown = format_html_join(" · ", "{}: {}", counts.items())
        return format_html("{} — {}", shown, self.subscribers_link(sequence))

    @admin.display(description="Each step")
    def figures(self, sequence):
        rows = step_stats(sequence)
        if not rows:
            return "No message yet: add them below."
        head = format_html_join("", "<th>{}</th>", ((column.title(),) for column in COLUMNS))
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            (
                (
                    number,
                    str(step),
                    describe_timing(step),
                    format_html_join("", "<td>{}</td>", ((counts[c],) for c in COLUMNS)),
                )
                for number, (step, counts) in enumerate(rows, start=1)
            ),
        )
        return format_html(
            '<table class="picky-sequence-figures"><thead><tr><th>Step</th><th>Message</th>'
            "<th>When</th>{}</tr></thead><tbody>{}</tbody></table>",
            head,
            body,
        )


class DeliveryInline(ProjectScopedInlineMixin, admin.TabularInline):
    model = Delivery
    fields = ["message", "due_at", "status", "reason", "sent_message_status", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Deliveries (each step planned for this subscriber)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message", "sent_message")

    @admin.display(description="Message status")
    def sent_message_status(self, delivery):
        message = delivery.sent_message
        return message.get_status_display() if message else "—"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    project_path = "sequence__project"
    list_display = ["contact", "sequence", "status", "started_at", "ended_at", "reason"]
    list_filter = ["status", "sequence"]
    list_select_related = ["contact", "sequence"]
    search_fields = ["contact__name", "contact__number", "contact__email"]
    fields = ["sequence", "contact", "started_at", "status", "ended_at", "reason"]
    readonly_fields = fields
    inlines = [DeliveryInline]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ProjectScopedAdminMixin, admin.ModelAdmin):
    project_path = "subscription__sequence__project"
    list_display = ["contact", "sequence", "message", "due_at", "status", "reason", "sent_at"]
    # Not by sequence: a filter across two relations would list every project's sequences;
    # a sequence's subscribers are one click from its page.
    list_filter = ["status"]
    list_select_related = ["subscription__contact", "subscription__sequence", "message"]
    fields = ["subscription", "message", "due_at", "status", "reason", "sent_message", "sent_at"]
    readonly_fields = fields

    @admin.display(description="Contact")
    def contact(self, delivery):
        return delivery.subscription.contact

    @admin.display(description="Sequence")
    def sequence(self, delivery):
        return delivery.subscription.sequence

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False
