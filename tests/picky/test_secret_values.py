"""Secrets are write-only: shown masked, kept when sent back unchanged, replaced when typed."""

import pytest
from django import forms
from django.core.exceptions import ValidationError

from picky.models import Project
from picky.secret_values import MASK, MaskedJSONField, SecretField, masked, unmasked
from tests.api_client import api_client

SECRET = "sk-proj-never-shown-4711"


class SettingsForm(forms.Form):
    key = SecretField(required=False)
    credentials = MaskedJSONField(required=False, is_secret={"token"}.__contains__)


def submit(data, saved):
    form = SettingsForm(data=data, initial=saved)
    assert form.is_valid(), form.errors
    return form.cleaned_data


class TestMechanism:
    def test_masked_and_unmasked(self):
        saved = {"url": "https://push.example", "token": SECRET}
        shown = masked(saved, {"token"}.__contains__)
        assert shown == {"url": "https://push.example", "token": MASK}
        assert unmasked(shown, saved) == saved
        assert unmasked({**shown, "token": "typed"}, saved)["token"] == "typed"

    def test_a_mask_with_nothing_saved_is_refused(self):
        with pytest.raises(ValidationError, match="token: type the value"):
            unmasked({"token": MASK}, {})

    def test_form_never_renders_the_saved_values(self):
        html = SettingsForm(initial={"key": SECRET, "credentials": {"token": SECRET}}).as_p()
        assert SECRET not in html
        assert f'placeholder="{MASK}"' in html and "Remove the saved value" in html
        assert "&quot;token&quot;: &quot;" + MASK in html

    def test_unchanged_keeps_typed_replaces_removed_clears(self):
        saved = {"key": SECRET, "credentials": {"token": SECRET, "url": "u"}}
        unchanged = {"key": "", "credentials": f'{{"token": "{MASK}", "url": "v"}}'}
        assert submit(unchanged, saved) == {
            "key": SECRET,
            "credentials": {"token": SECRET, "url": "v"},
        }
        typed = {"key": "sk-new", "credentials": '{"token": "new", "url": "u"}'}
        assert submit(typed, saved) == {
            "key": "sk-new",
            "credentials": {"token": "new", "url": "u"},
        }
        removed = {"key": "", "key-remove": "on", "credentials": "{}"}
        assert submit(removed, saved) == {"key": "", "credentials": {}}

    def test_a_form_shown_again_masks_saved_values_only(self):
        saved = {"credentials": {"token": SECRET}}
        form = SettingsForm(data={"credentials": '{"token": "typed-now", "x": "y"}'}, initial=saved)
        html = form.as_p()
        assert "typed-now" in html and SECRET not in html
        form = SettingsForm(data={"credentials": f'{{"token": "{SECRET}"}}'}, initial=saved)
        assert SECRET not in form.as_p()


@pytest.mark.django_db
class TestProjectKey:
    def test_project_page_and_api_never_show_the_key(self, client, member, project):
        Project.objects.filter(pk=project.pk).update(chatgpt_api_key=SECRET)
        client.force_login(member)
        for url in (
            f"/admin/picky/project/{project.pk}/change/",
            "/admin/picky/project/",
            f"/admin/picky/project/{project.pk}/history/",
        ):
            assert SECRET not in client.get(url).content.decode(), url
        answer = api_client(project).get("/api/v1/project")
        assert SECRET not in answer.content.decode()
        assert answer.json()["has_chatgpt_api_key"] is True
