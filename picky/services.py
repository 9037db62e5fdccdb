"""Service functions of the platform core."""

from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Membership, Project


@transaction.atomic
def create_project(slug, name, owner_username, time_zone="UTC"):
    """Create a project with `owner_username` as its owner (the user must exist)."""
    owner = get_user_model().objects.get(username=owner_username)
    project = Project.objects.create(slug=slug, name=name, time_zone=time_zone)
    Membership.objects.create(project=project, user=owner, role=Membership.Role.OWNER)
    return project
