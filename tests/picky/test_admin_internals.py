"""Django's and Celery's own tables (accounts, groups, raw permissions, beat's periodic tasks
and schedules) are for superusers: a project's owners, admins and agents never see them,
even with every Django permission granted to their account."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission

from picky.admin import INTERNAL_MODELS, SuperuserOnlyAdminMixin
from picky.models import Membership
from picky.tenancy import ProjectScopedAdminMixin
from tests.picky.test_admin_roles import staff

INTERNAL_URLS = [
    f"/admin/{model._meta.app_label}/{model._meta.model_name}/" for model in INTERNAL_MODELS
]


def test_every_admin_page_is_scoped_to_projects_or_kept_for_superusers():
    undecided = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, (ProjectScopedAdminMixin, SuperuserOnlyAdminMixin))
    ]
    assert undecided == []
    assert {
        "auth.Group",
        "auth.User",
        "django_celery_beat.PeriodicTask",
        "django_celery_beat.IntervalSchedule",
        "django_celery_beat.CrontabSchedule",
        "django_celery_beat.ClockedSchedule",
        "django_celery_beat.SolarSchedule",
    } == {model._meta.label for model in INTERNAL_MODELS}


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Membership.Role))
def test_members_never_see_the_internals(client, project, role):
    user = staff(f"{role}-user", project, role)
    user.user_permissions.set(Permission.objects.all())
    client.force_login(user)
    index = client.get("/admin/").content.decode()
    assert "/admin/connectors/" in index or role == Membership.Role.AGENT
    for url in INTERNAL_URLS:
        assert url not in index
        assert client.get(url).status_code == 403, url
        assert client.get(url + "add/").status_code == 403, url
    assert client.get("/admin/auth/").status_code == 404
    assert client.get("/admin/django_celery_beat/").status_code == 404


@pytest.mark.django_db
def test_superusers_see_and_manage_them(admin_client):
    index = admin_client.get("/admin/").content.decode()
    for url in INTERNAL_URLS:
        assert url in index
        assert admin_client.get(url).status_code == 200, url
        assert admin_client.get(url + "add/").status_code == 200, url
