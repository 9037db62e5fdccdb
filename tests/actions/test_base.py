import pytest
from django import forms

from actions.registry import get_type


def test_validate_errors_are_plain_messages_per_field(db):
    with pytest.raises(forms.ValidationError) as info:
        get_type("send_email").validate({"to": ["nope"], "subject": ""})
    assert info.value.message_dict == {
        "to": ["'nope' is not a valid email address."],
        "subject": ["This field is required."],
        "body": ["This field is required."],
    }
