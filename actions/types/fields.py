"""Form fields shared by action config forms."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from crm import services as crm
from teambox import services as messaging

from ..base import ProjectNameField


class TextListField(forms.Field):
    """A list of texts, or one comma-separated text (what a form box gives)."""

    item_noun = "items"

    def to_python(self, value):
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list):
            raise ValidationError(f"Give a list of {self.item_noun} or a comma-separated text.")
        return [str(item).strip() for item in value if str(item).strip()]


class TemplatedEmailListField(TextListField):
    """A list of addresses (or one comma-separated string); each is an address or a template."""

    item_noun = "addresses"

    def __init__(self, *, max_items=10, **kwargs):
        self.max_items = max_items
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if len(value) > self.max_items:
            raise ValidationError(f"At most {self.max_items} addresses; {len(value)} given.")
        for address in value:
            if "{{" in address:
                continue
            try:
                validate_email(address)
            except ValidationError as exc:
                raise ValidationError(f"{address!r} is not a valid email address.") from exc

    @staticmethod
    def rendered_addresses(value):
        """(valid, invalid) addresses of a rendered list (a template may expand to 'a, b')."""
        items = value if isinstance(value, list) else [value or ""]
        valid, invalid = [], []
        for item in items:
            for part in str(item or "").split(","):
                part = part.strip()
                if not part:
                    continue
                try:
                    validate_email(part)
                except ValidationError:
                    invalid.append(part)
                else:
                    valid.append(part)
        return valid, invalid


class JSONValueField(forms.Field):
    """Any JSON value as given (text, number, list, object): config is JSON already."""

    def to_python(self, value):
        return value

    def validate(self, value):
        if self.required and value in (None, ""):
            raise ValidationError(self.error_messages["required"], code="required")


class ChannelNameField(ProjectNameField):
    """The name of one of the project's channels, whatever its case."""

    picker = "channels"

    def check_in_project(self, name, project):
        if messaging.find_channel(project, name) is None:
            raise ValidationError(messaging.unknown_channel_message(project, name))


class MemberField(ProjectNameField):
    """A member of the project, by username or e-mail address, whatever its case."""

    picker = "members"

    def check_in_project(self, name, project):
        try:
            crm.project_agent(project, name)
        except crm.ContactError as exc:
            raise ValidationError(str(exc)) from exc
