"""Pickers: the project's own names offered in an action's settings instead of typed ones.

A source is a function `(project, term) -> list[str]` registered under a name with
`@picker("channels")` (a name registered twice is refused). A config form field declares
its source with `widget=PickerInput("channels")`, or with a `picker = "channels"` attribute
on its ProjectNameField class; the action page then renders it as a text box whose
suggestions, filtered by what the user types, come from the admin's picker endpoint
(ActionAdmin.pick_view). The box stays free text: a template (`{{ event.channel }}`) is
still allowed where the name is known only when the action runs.

Sources owned by other parts register themselves where they live (records: "modules",
"funnels", ...; journeys: "sequences", "flows"); the ones below name what crm, teambox and
connectors already have.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from connectors.models import Connector, Counter, Step
from crm.models import Category, OptOutList, Tag
from picky.models import Membership
from teambox.models import Channel, Department
from teambox.whatsapp_templates import project_templates

# Most names one answer offers: a screenful; typing narrows the rest.
MOST_NAMES = 20

_sources = {}
# The sources that take `within`.
_narrowed = set()


class DuplicatePicker(Exception):
    pass


def picker(name, narrowed=False):
    """Function decorator: `@picker("tags") def tag_names(project, term): ...`;
    `narrowed`: the function also takes `within` (what another box of the row names)."""

    def decorate(function):
        if name in _sources:
            raise DuplicatePicker(f"Picker {name!r} is registered twice.")
        _sources[name] = function
        if narrowed:
            _narrowed.add(name)
        return function

    return decorate


def get_picker(name):
    """The source registered as `name`, or None."""
    return _sources.get(name)


def picker_names():
    return sorted(_sources)


def names_for(name, project, term="", within=""):
    """The names source `name` offers in `project` for the typed `term`, at most MOST_NAMES,
    without repeats (whatever their case), in the source's order. `within` narrows a source
    that takes it (keyword `within`: the delay identifiers of one connector)."""
    source = _sources[name]
    term = str(term or "").strip()
    if name in _narrowed:
        offered = source(project, term, within=str(within or "").strip())
    else:
        offered = source(project, term)
    seen, names = set(), []
    for found in offered:
        if found and found.lower() not in seen:
            seen.add(found.lower())
            names.append(found)
        if len(names) == MOST_NAMES:
            break
    return names


class PickerInput(forms.TextInput):
    """A text box offering the names of a picker source as the user types.

    `multiple`: the box holds a comma-separated list (tags, users) and a chosen name
    replaces the part being typed. The action page sets `url`, the endpoint answering
    for the action's project; without it the box is a plain text box.
    """

    template_name = "django/forms/widgets/text.html"

    def __init__(self, source, multiple=False, attrs=None):
        super().__init__(attrs)
        self.source = source
        self.multiple = multiple
        self.url = ""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_attrs = context["widget"]["attrs"]
        widget_attrs["data-picky-picker"] = self.source
        widget_attrs["autocomplete"] = "off"
        if self.multiple:
            widget_attrs["data-picky-picker-multiple"] = "1"
        if self.url:
            widget_attrs["data-picky-picker-url"] = self.url
        return context

    def format_value(self, value):
        if isinstance(value, (list, tuple)):
            return ", ".join(str(item) for item in value)
        return super().format_value(value)


def source_of(field):
    """The picker source a form field declares (its widget's or its class's), or ""."""
    if isinstance(field.widget, PickerInput):
        return field.widget.source
    return getattr(field, "picker", "") or ""


def matching(queryset, term, field="name"):
    """`queryset`'s `field` values containing `term` (any case), names starting with it
    first, then alphabetically."""
    if term:
        queryset = queryset.filter(**{f"{field}__icontains": term})
    values = list(queryset.order_by(field).values_list(field, flat=True)[: MOST_NAMES * 3])
    lowered = term.lower()
    return sorted(values, key=lambda value: not value.lower().startswith(lowered))


# The project's own names -----------------------------------------------------------------


@picker("channels")
def channel_names(project, term):
    return matching(Channel.objects.filter(project=project), term)


@picker("connectors")
def connector_names(project, term):
    return matching(Connector.objects.filter(project=project), term)


@picker("delay_identifiers", narrowed=True)
def delay_identifiers(project, term, within=""):
    """The identifiers the project's steps park their delays with (a template, mostly:
    `{{ event.meeting_id }}`), which Cancel Delay names again: those of the connector
    named `within` (any case); all the project's when it names none of them (a template)."""
    delays = Step.objects.filter(connector__project=project, delay__isnull=False)
    named = delays.filter(connector__name__iexact=within) if within else delays.none()
    if named.exists():
        delays = named
    identifiers = sorted(
        {
            str(delay.get("identifier") or "").strip()
            for delay in delays.values_list("delay", flat=True)
            if isinstance(delay, dict)
        }
        - {""}
    )
    lowered = term.lower()
    return [identifier for identifier in identifiers if lowered in identifier.lower()]


@picker("counters")
def counter_names(project, term):
    return matching(Counter.objects.filter(project=project), term)


@picker("tags")
def tag_names(project, term):
    return matching(Tag.objects.filter(project=project), term)


@picker("categories")
def category_names(project, term):
    return matching(Category.objects.filter(project=project), term)


@picker("optout_lists")
def optout_list_names(project, term):
    return matching(OptOutList.objects.filter(project=project), term)


@picker("members")
def member_names(project, term):
    """Members by username (what MemberField and the teambox types accept)."""
    members = get_user_model().objects.filter(
        pk__in=Membership.objects.filter(project=project).values("user")
    )
    if term:
        members = members.filter(Q(username__icontains=term) | Q(email__icontains=term))
    return matching(members, "", field="username")


@picker("departments")
def department_names(project, term):
    return matching(Department.objects.filter(project=project), term)


@picker("whatsapp_templates")
def whatsapp_template_names(project, term):
    """The approved templates of the project's official channels (read from Meta's API and
    kept a few minutes)."""
    lowered = term.lower()
    return sorted(
        {t["name"] for t in project_templates(project) if lowered in t["name"].lower()},
        key=lambda name: (not name.lower().startswith(lowered), name),
    )
