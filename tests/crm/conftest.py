import pytest
from django.contrib.auth import get_user_model

from crm.models import Field, Module
from picky.models import Membership


@pytest.fixture
def teammate(project):
    """An agent of `project` (no password: hashing one costs a second per test)."""
    user = get_user_model().objects.create_user("teammate", email="teammate@acme.test")
    Membership.objects.create(project=project, user=user, role=Membership.Role.AGENT)
    return user


@pytest.fixture
def every_type(project):
    """A module with one field of each type (keys: the type's name); its relation
    points to the prebuilt Company module."""
    module = Module.objects.create(project=project, name="Catalog")
    company = project.modules.get(name="Company")
    for position, type_ in enumerate(Field.Type.values):
        Field.objects.create(
            module=module,
            key=type_,
            label=type_.replace("_", " ").capitalize(),
            type=type_,
            choices=["Red", "Green", "Blue"] if "choice" in type_ else [],
            related_module=company if type_ == "relation" else None,
            position=position,
        )
    return module


@pytest.fixture
def eager_celery():
    """Run Celery tasks in-process (on_commit callbacks still need capturing in tests)."""
    from picky.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Files kept by the tests (CSV imports) go to the test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
